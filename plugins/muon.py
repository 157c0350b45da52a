"""Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks", blog at
kellerjordan.github.io/posts/muon): momentum SGD whose update of each hidden weight matrix is
orthogonalized by a few Newton–Schulz iterations. Tveit et al. 2025 ("Muon Optimizer
Accelerates Grokking", arXiv 2504.16041) report that it brings the grokking epoch of a small
transformer on modular arithmetic from 153.09 to 102.89 on average (t = 5.0175,
p = 6.33e-08) against AdamW. It is ``torch.optim.Muon``; this plugin only decides which
parameters it gets.

**Which parameters.** As its authors recommend, Muon trains the 2-D *hidden* weight matrices
and the base optimizer (AdamW unless ``--set optimizer=...``) trains the rest: embeddings, the
input layer, the output layer, biases, gains and any other non-matrix parameter. "Hidden" is
decided from the model's modules, generically for every bundled model
(:func:`hidden_matrices`):

- candidates are the 2-D parameters whose name starts with ``weight`` (``nn.Linear.weight``,
  ``nn.LSTM.weight_ih_l0`` / ``weight_hh_l0``, PyG's linear layers …) on modules that are not
  embeddings (``nn.Embedding``, ``nn.EmbeddingBag``); a bare ``nn.Parameter`` such as a learned
  positional embedding is not a candidate;
- the output layer is the last candidate in registration order (every bundled model registers
  its head last) and is left out;
- the input layer is left out too: the embedding where the model has one (already not a
  candidate), else the first candidate (the MLP's first layer, which on one-hot token inputs
  *is* the token embedding).

So the MLP gives Muon its hidden-to-hidden layers (``layers.1`` of the default depth-2 MLP), the
transformer its attention and MLP matrices (``qkv``, ``out``, ``mlp_in``, ``mlp_out``; not
``embed``, ``pos`` or ``unembed``), the IMDb LSTM its recurrent matrices. A model may decide for
itself by defining ``muon_params(self) -> list[nn.Parameter]``. (Of the QM9 graph net's
input-side matrices, only the first registered is left out: its node-side root weight goes to
Muon. A ``muon_params`` there would settle it; QM9 is not a task where the claim is made.)

**Settings.** Muon's own are torch's defaults, which are Jordan's: momentum 0.95 with Nesterov,
5 Newton–Schulz steps with his coefficients (3.4445, −4.775, 2.0315). Learning rate and weight
decay are *shared* with the base optimizer (``lr``, ``weight_decay``), with torch's
``adjust_lr_fn="match_rms_adamw"`` (Liu et al. 2025, "Muon is Scalable for LLM Training",
arXiv 2502.16982): each update is scaled by 0.2·√max(A, B) so its RMS matches AdamW's and AdamW's
learning rate and decoupled weight decay carry over. That deviates from torch's default (lr 1e-3
with Jordan's √max(1, A/B) scaling) on purpose: our tasks train at different learning rates
(1e-2 to 3e-4), and a Muon run at the task's own lr and weight decay differs from the AdamW run
only in the update rule of the hidden matrices, which is the comparison the claim is about.
``muon_lr`` sets a learning rate of Muon's own (then with the adjustment as chosen in
``muon_adjust_lr``). We could not read Tveit et al.'s own learning rates; their result is cited
for its numbers, not its settings.

The ``muon`` method uses the ``wd`` method's published weight decay per task (γ = 1 by default,
teacher-student 0.05, MNIST 0.1, IMDb 1, QM9 0.01: leaderboards/README.md, "Recipes"), so
``muon`` against ``wd`` is Muon against AdamW at equal settings (a test checks that the two
methods resolve to the same weight decay on every task).

Muon is registered as an optimizer *wrapper* because choosing "hidden" needs the model, which
only wrappers are handed: it takes the base optimizer (built with every parameter and all of its
hyperparameters), moves the hidden matrices out of it into a ``torch.optim.Muon``, and steps
both. Gradient wrappers (⊥Grad, Grokfast) must see every gradient first, so ``muon`` is the
innermost wrapper: write it last (``--method grokfast+muon``).
"""
from __future__ import annotations

import torch
from torch import nn

from grokbench import Option, OptimizerWrapper, UserError, hookimpl

EMBEDDINGS = (nn.Embedding, nn.EmbeddingBag)


def hidden_matrices(model: nn.Module) -> list[nn.Parameter]:
    """The parameters Muon trains (module docstring): 2-D ``weight*`` parameters of non-embedding
    modules, minus the output layer (the last) and, without an embedding, the input layer (the
    first). A model's own ``muon_params()`` wins."""
    own = getattr(model, "muon_params", None)
    if callable(own):
        return [p for p in own() if p.requires_grad]
    has_embedding = any(isinstance(m, EMBEDDINGS) for m in model.modules())
    candidates = []
    for module in model.modules():
        if isinstance(module, EMBEDDINGS):
            continue
        for name, p in module.named_parameters(recurse=False):
            if name.startswith("weight") and p.ndim == 2 and p.requires_grad:
                candidates.append(p)
    if candidates:
        candidates = candidates[:-1]          # the output layer
    if candidates and not has_embedding:
        candidates = candidates[1:]           # the input layer
    return candidates


class MuonWrapper(OptimizerWrapper):
    """The base optimizer for every parameter but the hidden matrices, Muon for those."""

    def __init__(self, inner, model, config):
        if isinstance(inner, OptimizerWrapper):
            raise UserError("muon must be the innermost optimizer wrapper (it splits the base "
                            "optimizer's parameters): write it last, e.g. --method grokfast+muon "
                            "or --set wrappers=grokfast,muon")
        super().__init__(inner)
        hidden = hidden_matrices(model)
        ids = {id(p) for p in hidden}
        for group in inner.param_groups:  # nothing has been stepped yet: no state to move
            group["params"] = [p for p in group["params"] if id(p) not in ids]
        inner.param_groups[:] = [g for g in inner.param_groups if g["params"]]
        lr = config["muon_lr"] if config.get("muon_lr") is not None else config["lr"]
        wd = (config["muon_weight_decay"] if config.get("muon_weight_decay") is not None
              else config["weight_decay"])
        self.muon = torch.optim.Muon(
            hidden, lr=float(lr), weight_decay=float(wd), momentum=float(config["muon_momentum"]),
            nesterov=bool(config["muon_nesterov"]), ns_steps=int(config["muon_ns_steps"]),
            adjust_lr_fn=config["muon_adjust_lr"]) if hidden else None

    @property
    def param_groups(self):
        # every parameter, so that an outer wrapper or a metric sees the whole model
        return self.inner.param_groups + (self.muon.param_groups if self.muon else [])

    def zero_grad(self, set_to_none=True):
        self.inner.zero_grad(set_to_none=set_to_none)
        if self.muon:
            self.muon.zero_grad(set_to_none=set_to_none)

    def step(self):
        if self.inner.param_groups:
            self.inner.step()
        if self.muon:
            self.muon.step()


OPTIONS = {
    "muon_lr": Option(None, "Muon's learning rate (none: the run's lr)", float, minimum=0),
    "muon_weight_decay": Option(None, "Muon's weight decay (none: the run's weight_decay)", float,
                                minimum=0),
    "muon_momentum": Option(0.95, "Muon's momentum (torch's default 0.95)", float, minimum=0,
                            maximum=1),
    "muon_nesterov": Option(True, "Nesterov momentum (torch's default)", bool),
    "muon_ns_steps": Option(5, "Newton–Schulz iterations (torch's default 5)", int, minimum=1),
    "muon_adjust_lr": Option("match_rms_adamw", "how Muon scales its lr per matrix (torch's "
                             "adjust_lr_fn; match_rms_adamw lets Muon share AdamW's lr)", str,
                             choices=("match_rms_adamw", "original")),
}


@hookimpl
def register_optimizers(register):
    register("muon", MuonWrapper, "Muon (torch.optim.Muon) on the hidden 2-D weight matrices, the "
             "base optimizer on the rest", wrapper=True, options=OPTIONS)


# The wd method's published weight decay per task (plugins/weight_decay.py; leaderboards/README.md,
# "Recipes"): muon runs at the same values so that muon vs wd isolates the update rule.
WD_DEFAULT = 1.0
RECIPES = {"teacher-student": {"weight_decay": 0.05}, "mnist": {"weight_decay": 0.1},
           "imdb": {"weight_decay": 1.0}, "qm9": {"weight_decay": 0.01}}

# Tuning (grokbench sweep --tuning N): the space of the wd method plus Muon's momentum.
SEARCH_SPACE = {"lr": {"log_uniform": [1e-4, 3e-2]},
                "weight_decay": {"log_uniform": [1e-2, 3.0]},
                "muon_momentum": {"uniform": [0.85, 0.98]}}


@hookimpl
def register_methods(register):
    register("muon", {"wrappers": ["muon"], "weight_decay": WD_DEFAULT},
             "Muon on hidden matrices + AdamW on the rest, at the task's lr and the wd method's "
             "weight decay (Tveit et al. 2025)", per_task=RECIPES, search_space=SEARCH_SPACE)
