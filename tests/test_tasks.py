"""The algorithmic tasks' data against their definitions."""
import torch

from grokbench.config import resolve
from grokbench.engine import derive_seed


def load(registry, name, **over):
    config = resolve(registry, name, "baseline", over)
    torch.manual_seed(derive_seed(config["seed"], "data"))
    return registry.get("tasks", name).obj().load(config)


def all_pairs(data):
    return torch.cat([data.train_x, data.test_x]), torch.cat([data.train_y, data.test_y])


def test_modular_ops_label_every_pair(registry):
    p = 13
    ops = {"modadd": lambda a, b: (a + b) % p, "modsub": lambda a, b: (a - b) % p,
           "modmul": lambda a, b: (a * b) % p, "modpoly": lambda a, b: (a * a + a * b + b * b) % p}
    for name, op in ops.items():
        data = load(registry, name, p=p)
        x, y = all_pairs(data)
        assert len(x) == p * p and len(set(map(tuple, x.tolist()))) == p * p
        assert all(op(a, b) == t for (a, b), t in zip(x.tolist(), y.tolist())), name
        assert data.n_train == round(0.4 * p * p)


def test_moddiv_excludes_zero_and_inverts_multiplication(registry):
    data = load(registry, "moddiv", p=13)
    x, y = all_pairs(data)
    assert len(x) == 13 * 12 and (x[:, 1] != 0).all()
    assert ((y * x[:, 1]) % 13 == x[:, 0]).all()


def test_split_depends_on_seed(registry):
    a, b = load(registry, "modadd", p=13, seed=0), load(registry, "modadd", p=13, seed=1)
    assert not torch.equal(a.train_x, b.train_x)
    assert torch.equal(a.train_x, load(registry, "modadd", p=13, seed=0).train_x)


def test_parity_labels_and_uniqueness(registry):
    data = load(registry, "parity", n_samples=500)
    x, y = all_pairs(data)
    assert x.shape == (500, 43) and len(set(map(tuple, x.tolist()))) == 500
    assert torch.equal(y, x[:, :3].sum(1).long() % 2)
    assert data.n_train == 250


def test_teacher_is_fixed_and_student_init_differs(registry):
    a, b = load(registry, "teacher-student", seed=0), load(registry, "teacher-student", seed=1)
    assert a.train_x.shape == (100, 5) and a.test_y.shape == (100, 5)
    assert not torch.equal(a.train_x, b.train_x)
    # The same teacher labels both seeds' inputs: relabel seed 1's inputs with seed 0's teacher.
    torch.manual_seed(0)
    teacher = torch.nn.Sequential(torch.nn.Linear(5, 100), torch.nn.Tanh(), torch.nn.Linear(100, 100),
                                  torch.nn.Tanh(), torch.nn.Linear(100, 5))
    with torch.no_grad():
        assert torch.allclose(teacher(b.train_x), b.train_y)
