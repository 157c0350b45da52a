"""Omnigrok's constant weight-norm constraint: after every optimizer step, rescale all
parameters together so their global L2 norm stays at its value right after initialization
(after α-scaling). One global sphere, not one per layer."""
import torch

from grokbench import OptimizerWrapper, hookimpl


def global_norm(params) -> torch.Tensor:
    return torch.sqrt(sum(p.detach().double().pow(2).sum() for p in params))


class NormConstraint(OptimizerWrapper):
    def __init__(self, inner):
        super().__init__(inner)
        self.norm0 = global_norm(self.params())

    @torch.no_grad()
    def step(self):
        self.inner.step()
        params = self.params()
        factor = self.norm0 / global_norm(params)
        for p in params:
            p.mul_(factor.to(p.dtype))


@hookimpl
def register_optimizers(register):
    register("norm", lambda inner, model, config: NormConstraint(inner),
             "keep the global weight norm at its initial value after every step", wrapper=True)


# Omnigrok's reduced landscapes (teacher-student Fig. 2, MNIST Fig. 3, IMDb and QM9 in §4) put
# the test-loss minimum near the standard initialization's norm, α ≈ 1; the constraint is run
# there, with no weight decay. Its only single-run recipe, α = 0.8, is for the transformer.
RECIPES = {task: {"init_scale": 1.0} for task in ("teacher-student", "mnist", "imdb", "qm9")}
# The constraint works on a sphere of the right radius. With the modular tasks' MLP at α = 1
# (norm 13) AdamW's lr 0.01 steps are too large for the sphere and nothing is learned in 1000
# steps (train and test ≈ 3 %); at α = 3 train and test reach 100 % together by step 250, the
# delay removed (measured, p = 113, seed 0).
RECIPES.update({task: {"init_scale": 3.0}
                for task in ("modadd", "modsub", "modmul", "moddiv", "modpoly")})


@hookimpl
def register_methods(register):
    register("norm", {"wrappers": ["norm"], "weight_decay": 0.0},
             "constant global weight norm (Omnigrok), no weight decay", per_task=RECIPES)
