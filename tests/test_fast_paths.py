"""The speed-ups compute the very same numbers as the plain formulation they replace: each is
checked here against that formulation in the same process, bit for bit (no stored numbers, so
the check holds on any CPU)."""
import pytest
import torch
import torch.nn.functional as F

from grokbench.api import TaskInfo
from grokbench.config import resolve


def _bits(t):
    return t.detach().view(torch.int64 if t.dtype == torch.float64 else torch.int32)


def _reference_forward(model, x):
    """The MLP's first layer as embedding(...).sum(1), ReLU out of place: the old code."""
    first = model.layers[0]
    h = F.embedding(x + model.offsets, first.weight.t()).sum(1)
    if first.bias is not None:
        h = h + first.bias
    for layer in model.layers[1:]:
        h = layer(F.relu(h))
    return h


@pytest.mark.parametrize("p, seq_len, bias, dtype", [
    (113, 2, False, torch.float32),   # modadd's model and full batch
    (7, 2, True, torch.float64),
    (11, 5, False, torch.float32),    # longer sequences keep sum's own order
])
def test_mlp_token_path_equals_reference_bit_for_bit(registry, p, seq_len, bias, dtype):
    info = TaskInfo("classification", p, "tokens", vocab_size=p, seq_len=seq_len)
    config = resolve(registry, "modadd", "baseline", {"p": p, "bias": bias})
    torch.manual_seed(0)
    model = registry.get("models", "mlp").obj(info, config).to(dtype)
    n = 5108 if p == 113 else 300
    x = torch.randint(0, p, (n, seq_len))
    target = torch.randint(0, p, (n,))
    results = []
    for forward in (model, lambda xb: _reference_forward(model, xb)):
        model.zero_grad(set_to_none=True)
        out = forward(x)
        F.cross_entropy(out, target).backward()
        results.append([out] + [p.grad for p in model.parameters()])
    for fast, ref in zip(*results):
        assert torch.equal(_bits(fast), _bits(ref))


def test_mlp_in_place_relu_equals_out_of_place_on_feature_inputs(registry):
    """MNIST's MLP (feature inputs, biases, 3 hidden layers): the ReLU that masks its gradient in
    place gives the outputs and every gradient of F.relu, bit for bit, through backward and
    through autograd.grad (the evaluation's ∇L)."""
    info = TaskInfo("classification", 10, "features", in_features=784)
    config = resolve(registry, "mnist", "baseline", {"depth": 3, "bias": True})
    torch.manual_seed(0)
    model = registry.get("models", "mlp").obj(info, config)
    x, target = torch.randn(256, 784), torch.randint(0, 10, (256,))

    def reference(xb):
        h = model.layers[0](xb)
        for layer in model.layers[1:]:
            h = layer(F.relu(h))
        return h

    results = []
    for forward in (model, reference):
        out = forward(x)
        grads = torch.autograd.grad(F.mse_loss(out, F.one_hot(target, 10).float()),
                                    list(model.parameters()))
        results.append([out, *grads])
    for fast, ref in zip(*results):
        assert torch.equal(_bits(fast), _bits(ref))
