"""When a run evaluates: dense early, then every ``eval_every`` steps (docs/science.md,
"Scores"), as a lazy sequence, so a huge budget costs no memory. Apart from the engine so that
the checkpoints, which are saved at evaluations, need nothing else of it."""
from __future__ import annotations



class EvalSchedule:
    """The evaluation steps of a run, computed, not listed: ``step in schedule``, ``len``,
    indexing and iteration in step order, in memory that does not grow with the budget (a
    list of every step to evaluate took 5 GB for ``--steps 1000000000000`` before training).
    The steps are exactly those of the list this replaced: the early points (below
    ``eval_every``, and every step to 10), each multiple of ``eval_every``, and the last step."""

    def __init__(self, steps: int, eval_every: int, per_decade: int = 10):
        self.steps, self.every = steps, eval_every
        points = {0}
        if per_decade >= 10:
            points.update(range(0, min(10, steps) + 1))
        k = 1.0
        while k < eval_every:
            points.add(int(round(k)))
            k *= 10 ** (1 / per_decade)
        # the early points (at most a few hundred), with the regular ones among them; above
        # ``cutoff`` the schedule is the multiples of eval_every and the last step
        self.cutoff = max(p for p in points if p <= steps)
        points.update(range(eval_every, self.cutoff + 1, eval_every))
        points.add(steps)
        self.head = sorted(p for p in points if p <= min(steps, self.cutoff))
        self.first = self.cutoff // eval_every + 1  # the first multiple above the cutoff, / every
        self.multiples = max(0, steps // eval_every - self.first + 1)
        self.last = 1 if steps > self.cutoff and steps % eval_every else 0

    def __len__(self) -> int:
        return len(self.head) + self.multiples + self.last

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("evaluation schedule index out of range")
        if index < len(self.head):
            return self.head[index]
        index -= len(self.head)
        return (self.first + index) * self.every if index < self.multiples else self.steps

    def __contains__(self, step) -> bool:
        if step <= self.cutoff:
            return step in self.head
        return step <= self.steps and (step % self.every == 0 or step == self.steps)

    def __iter__(self):
        yield from self.head
        for j in range(self.first, self.first + self.multiples):
            yield j * self.every
        if self.last:
            yield self.steps

    def __eq__(self, other) -> bool:
        if not isinstance(other, (list, tuple, EvalSchedule)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"EvalSchedule(steps={self.steps}, eval_every={self.every}, {len(self)} evaluations)"


def eval_schedule(steps: int, eval_every: int, per_decade: int = 10) -> EvalSchedule:
    """Dense early, then regular (docs/science.md, "Scores"): ``per_decade`` log-spaced points per decade up to
    ``eval_every`` (with 10 or more: every step up to 10), then every ``eval_every``, and always
    the last step. Tasks with costly evaluations (IMDb) ask for fewer early points. Lazy
    (:class:`EvalSchedule`): a sequence of the steps in order, whatever the budget."""
    return EvalSchedule(steps, eval_every, per_decade)
