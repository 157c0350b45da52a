"""The run engine: one training run from a resolved config to a result (curve + scores).

A run is a pure function of its config (seed included): the same config on the same machine
gives the same curve, which is what makes sweeps resumable and results cacheable.
"""
from __future__ import annotations

import contextlib
import ctypes
import math
import platform
import sys
import time

import torch
from tqdm import tqdm

from . import resume
from .api import EvalContext, derive_seed
from .checkpoints import Checkpointer, _stored, build, checkpoint_file, load_into, missing_note
from .config import run_id
from .errors import Stopped, UserError
from .notebook_metrics import compute
from .registry import get_registry
from .schedule import EvalSchedule, eval_schedule  # noqa: F401  (engine.eval_schedule)
from .scoring import decision_index, score
from .version import __version__


def versions() -> dict:
    """Software versions and the machine facts a number depends on. Floating-point rounding
    differs between CPU kernels (ATen picks AVX-512, AVX2 or scalar code at run time), and
    grokking near a threshold is sensitive to it, so every run says which kernels it used."""
    return {"grokbench": __version__, "torch": torch.__version__,
            "python": sys.version.split()[0], "platform": platform.platform(),
            "cpu": cpu_model(), "aten_cpu_capability": torch.backends.cpu.get_cpu_capability()}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def keep_freed_memory():
    """Let glibc keep freed memory for reuse instead of handing every block over 128 KB back to
    the OS: otherwise each step page-faults its buffers in afresh. Measured at one thread:
    modadd ~1400 faults and 3 of 24 ms per step; IMDb 11k faults per LSTM step (97 -> 80 ms)
    and 370k per evaluation (2.6 -> 1.9 s). The process keeps up to 1 GB of freed memory (IMDb's
    evaluation peak is ~0.9 GB). Changes no number; a no-op where libc.so.6 has no mallopt."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    if not mallopt(m_mmap_threshold, 1 << 30):  # glibc before 2.35 caps it at 32 MB
        mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 1 << 30)


def check_model_size(build, info, config: dict, device: torch.device):
    """Refuse a model the machine cannot hold, before any of it is allocated (a width of 10^5
    started allocating 40 GB of weights). The model is built on the meta device, which
    allocates nothing and draws no random numbers; the estimate is its weights, their gradients
    and two optimizer moments in the run's dtype, against the memory free now (Linux's
    MemAvailable; elsewhere, or on an accelerator, nothing is checked)."""
    if device.type != "cpu":
        return
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            free = next(int(line.split()[1]) * 1024 for line in fh
                        if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return
    try:
        with torch.device("meta"):
            count = sum(p.numel() for p in build(info, config).parameters())
    except Exception:  # a builder that cannot run on the meta device is built for real
        return
    need = 4 * count * torch.empty((), dtype=getattr(torch, config["dtype"])).element_size()
    if need > free:
        raise UserError(f"the {config['model']} model has {count:,} parameters: about "
                        f"{need / 2**30:.1f} GB with gradients and optimizer state, more than "
                        f"the {free / 2**30:.1f} GB of memory free; choose a smaller model "
                        "(e.g. a smaller width or depth)")


def check_device(device: torch.device):
    """A device this machine has, checked before any data is loaded (a resolved config only
    says the name is a device: a sweep's workers may run where the devices are)."""
    if device.type == "cpu":
        return
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"--device {device}: torch sees {torch.cuda.device_count()} CUDA "
                            "GPU(s), numbered from 0; use --device cuda:0")
        return
    if device.type == "meta":
        raise UserError("--device meta holds no data, so nothing can be trained on it; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps asked for, but torch has no MPS (Apple GPU) backend here; "
                        "use --device cpu")
    try:
        torch.empty(0, device=device)
    except Exception as exc:  # another backend this torch build or machine lacks
        reason = " ".join(str(exc).split()).split(". ")[0]
        raise UserError(f"--device {device} is not available here ({reason}); use --device cpu") from None


MIXED = {"bf16-mixed": torch.bfloat16, "fp16-mixed": torch.float16}


def mixed_precision(config, device):
    """The forward passes' autocast context and the gradient scaler of a mixed-precision run
    (docs/science.md, "Precision"): bf16-mixed autocasts to bfloat16; fp16-mixed to float16,
    with a GradScaler, since float16 gradients underflow. A pure run gets a context that does
    nothing and no scaler, so its steps are exactly those of before the setting existed."""
    amp = MIXED.get(config.get("precision", "pure"))
    if amp is None:
        return contextlib.nullcontext, None
    scaler = torch.amp.GradScaler(device.type) if amp is torch.float16 else None
    return (lambda: torch.autocast(device.type, dtype=amp)), scaler


def loss_input(output, config):
    """Outputs as the loss sees them, for measuring Softmax Collapse in the loss's precision:
    under autocast, a loss with no dtype of its own (loss_dtype) is computed in float32 (autocast
    runs cross-entropy in float32), so its probabilities are read in float32 too."""
    if (config.get("precision", "pure") != "pure" and not config.get("loss_dtype")
            and output.dtype in (torch.bfloat16, torch.float16)):
        return output.float()
    return output


def build_optimizer(registry, model, config):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = registry.get("optimizers", config["optimizer"]).obj(params, config)
    # The first listed wrapper sees the gradient first, so it must be the outermost.
    for name in reversed(config["wrappers"]):
        opt = registry.get("optimizers", name).obj(opt, model, config)
    return opt


class Batches:
    """Training-set indices per step: the full set reshuffled each step (as the StableMax code does), or
    minibatches drawn from a fresh permutation each epoch. An epoch's last partial batch is
    dropped, or with ``keep_last`` trained on as a (smaller) step of its own, as the Grokfast
    code's ``torch.split`` of each shuffled epoch does."""

    def __init__(self, n, batch_size, seed, device, keep_last=False):
        self.n, self.bs, self.device = n, batch_size, device
        self.gen = torch.Generator().manual_seed(seed)
        self.perm, self.pos = torch.empty(0, dtype=torch.long), n  # drawn at the first next()
        self.keep_last = keep_last

    def next(self):
        if self.bs is None or self.bs >= self.n:
            return torch.randperm(self.n, generator=self.gen).to(self.device)
        if self.pos + (1 if self.keep_last else self.bs) > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.gen).to(self.device), 0
        idx = self.perm[self.pos:self.pos + self.bs]
        self.pos += self.bs
        return idx


def run(config: dict, *, registry=None, progress: bool = True, on_eval=None,
        checkpoint_store=None, notebook_metrics=None) -> dict:
    """Train one run and return its result: config, curve, scores, timings, versions.

    ``checkpoint_store``: the results store's path, beside which the checkpoints the config asks
    for are written (grokbench/checkpoints.py) and the run's resume state is kept
    (grokbench/resume.py; None: neither). ``notebook_metrics``: ad-hoc
    metrics of ``grokbench.run(..., metrics=...)`` (grokbench/notebook_metrics.py)."""
    # Flush-to-zero of subnormal floats is process-wide state that a model may turn on (the
    # IMDb LSTM does: its subnormal gradients made a backward pass 20x slower). A run must not
    # inherit it from the run before it in the same process (a sweep worker, a notebook, a Ray
    # actor): after Softmax Collapse a modular run's float32 probabilities are 40 % subnormal,
    # and flushing them changes its numbers. Every run starts as a fresh process does, with
    # subnormals kept, and leaves the process so.
    torch.set_flush_denormal(False)
    try:
        with resume.stop_on_sigterm() as stop:
            return _train(config, registry, progress, on_eval, checkpoint_store,
                          notebook_metrics, stop)
    finally:
        torch.set_flush_denormal(False)


def _train(config, registry, progress, on_eval, checkpoint_store, notebook_metrics,
           stop: resume.StopRequest) -> dict:
    registry = registry or get_registry()
    if config.get("threads"):
        torch.set_num_threads(int(config["threads"]))
    device = torch.device(config["device"])
    check_device(device)
    if device.type == "cpu":
        keep_freed_memory()
    dtype = getattr(torch, config["dtype"])
    seed = int(config["seed"])

    task = registry.get("tasks", config["task"]).obj()
    torch.manual_seed(derive_seed(seed, "data"))
    data = task.load(config)
    if data.n_train < 1 or len(data.test_y) < 1:  # an empty split crashed in the first evaluation
        frac = f" (train_frac {config['train_frac']})" if "train_frac" in config else ""
        raise UserError(f"the {config['task']} data split{frac} leaves {data.n_train} training and "
                        f"{len(data.test_y)} test examples; both need at least one"
                        + ("; choose a train_frac further from 0 and 1" if frac else ""))
    train_x, test_x = task.to(data.train_x, device, dtype), task.to(data.test_x, device, dtype)
    float_y = data.info.kind != "classification"
    train_y = data.train_y.to(device, dtype if float_y else None)
    test_y = data.test_y.to(device, dtype if float_y else None)

    check_model_size(registry.get("models", config["model"]).obj, data.info, config, device)
    torch.manual_seed(derive_seed(seed, "model"))
    model = registry.get("models", config["model"]).obj(data.info, config)
    with torch.no_grad():  # Omnigrok's α: scale every parameter after the default init
        for p in model.parameters():
            p.mul_(float(config["init_scale"]))
    model.to(device, dtype)
    loss_entry = registry.get("losses", config["loss"])
    loss_fn = loss_entry.obj(config)
    autocast, scaler = mixed_precision(config, device)
    probabilities = (None if loss_entry.probabilities is None
                     else lambda out: loss_entry.probabilities(loss_input(out, config), config))
    optimizer = build_optimizer(registry, model, config)
    metrics = [registry.get("metrics", m) for m in registry.names("metrics")]
    loggers = [registry.get("loggers", name).obj(run_id(config), config, config.get("log_dir"))
               for name in config.get("loggers") or []]

    steps = int(config["steps"])
    schedule = eval_schedule(steps, int(config["eval_every"]), int(config["evals_per_decade"]))
    batches = Batches(data.n_train, config["batch_size"], derive_seed(seed, "batches"), device,
                      keep_last=config.get("last_batch") == "keep")
    grad_clip = config.get("grad_clip")
    warmup = int(config.get("warmup_steps") or 0)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    curve, status = [], "finished"
    # NaN/inf seen in any training loss since the last evaluation; kept on the device and read
    # only at evaluations, so the training step never waits for a device-to-host sync.
    nonfinite = torch.zeros((), dtype=torch.bool, device=device)
    train_time = eval_time = 0.0
    # CPU-seconds this run's process spent on it (one run at a time per process, as every
    # executor runs them): what a run costs on a shared machine, where its wall time also counts
    # the other jobs. None for a run resumed from state saved before this was kept.
    first, resumed_at, elapsed = 0, [], 0.0
    cpu_before: float | None = 0.0
    resume_file = resume.file_for(config, checkpoint_store, run_id(config))
    saved = resume.load(resume_file, config, versions(), device)
    if saved is not None:  # an interrupted run: go on from its last saved evaluation
        model, optimizer, batches = saved["model"], saved["optimizer"], saved["batches"]
        scaler, base_lrs, curve = saved["scaler"], saved["base_lrs"], saved["curve"]
        nonfinite, train_time, eval_time = saved["nonfinite"], saved["train_time"], saved["eval_time"]
        first, elapsed, cpu_before = saved["step"], saved["wall_time"], saved.get("cpu_time")
        resumed_at = saved["resumed_at"] + [first]
        torch.set_rng_state(saved["rng"])
        if saved.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        print(f"(resuming run {run_id(config)} at step {first} of {steps}, from {resume_file})",
              file=sys.stderr)
    saver = resume.Saver(resume_file) if resume_file is not None else None
    checkpointer = None  # checkpoints: only saved, never read, so no number changes
    if checkpoint_store is not None and config.get("checkpoints"):
        checkpointer = Checkpointer(config, checkpoint_store, run_id(config))
    bar = _progress(steps, progress, f"{config['task']}/{config['method']}", first)
    t_start, cpu_start = time.perf_counter() - elapsed, time.process_time()

    def cpu_time():
        return None if cpu_before is None else cpu_before + time.process_time() - cpu_start

    def training_state(step: int) -> dict:
        """All that a run needs to go on after ``step`` updates, exactly (resume.py)."""
        return {"config": config, "versions": versions(), "step": step,
                "model": model, "optimizer": optimizer, "batches": batches,
                "scaler": scaler, "base_lrs": base_lrs, "curve": curve,
                "nonfinite": nonfinite, "train_time": train_time,
                "eval_time": eval_time, "wall_time": time.perf_counter() - t_start,
                "cpu_time": cpu_time(),
                "resumed_at": resumed_at, "rng": torch.get_rng_state(),
                "cuda_rng": (torch.cuda.get_rng_state_all()
                             if device.type == "cuda" else None)}
    trained = False
    try:
        for step in range(first, steps + 1):
            if checkpointer is not None:  # the weights after `step` updates
                checkpointer.at(step, model)
            if step in schedule and not (resumed_at and step == first):  # (that one is in curve)
                t0 = time.perf_counter()
                with autocast():  # the model evaluated is the one trained, in its precision
                    record = evaluate(task, model, loss_fn, metrics, config, step,
                                      train_x, train_y, test_x, test_y, probabilities,
                                      notebook_metrics)
                eval_time += time.perf_counter() - t0
                curve.append(record)
                for lg in loggers:
                    lg.log(step, record)
                if on_eval:
                    on_eval(record)
                bar.set_postfix(train=f"{record['train_acc']:.3f}", test=f"{record['test_acc']:.3f}",
                                refresh=False)
                if nonfinite.item() or not (math.isfinite(record["train_loss"])
                                            and math.isfinite(record["weight_norm"])):
                    status, record["nonfinite"] = "nonfinite", True  # recorded, not a crash
                    break
                # Scores are read up to the decision point (see scoring.decision_index), so a
                # run that has reached it can stop without changing any score.
                if config["early_stop"] and decision_index(curve, config) is not None:
                    status = "stopped_early"
                    break
                if saver is not None and step < steps and saver.due():
                    saver.save(training_state(step))
            if stop.requested and step < steps:
                # SIGTERM: keep the state after `step` updates (and its evaluation, where one
                # is due: a resumed run evaluates at its first step only if it is not in the
                # curve), then stop. Going on from it computes what the whole run computes.
                if saver is None:
                    why = resume.no_state_reason(config, checkpoint_store)
                else:  # a failed save has said why
                    why = None if saver.save(training_state(step)) else "it could not be saved"
                message = f"stopped by SIGTERM at step {step} of {steps}: " + (
                    f"this run keeps no resume state ({why}); the same command starts it afresh"
                    if why else f"its state is saved in {resume_file}; the same command goes "
                    "on from there")
                # said here: in a sweep's worker process, no one else would say it
                print(f"({message})", file=sys.stderr)
                raise Stopped(message, True)
            if step == steps:
                break
            t0 = time.perf_counter()
            model.train()
            idx = batches.next()
            with autocast():
                loss = loss_fn(model(task.select(train_x, idx)), train_y[idx]).mean()
            optimizer.zero_grad(set_to_none=True)
            (scaler.scale(loss) if scaler else loss).backward()
            if scaler and grad_clip:
                scaler.unscale_(optimizer)  # clip the true gradient, not the scaled one
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), float(grad_clip))
            if warmup and step <= warmup:  # update `step` (from 0) at lr·min(step / warmup, 1)
                for group, base in zip(optimizer.param_groups, base_lrs):
                    group["lr"] = base * min(step / warmup, 1.0)
            if scaler:  # skips the step when the scaled gradient overflowed, then adapts
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            nonfinite |= ~torch.isfinite(loss.detach())
            train_time += time.perf_counter() - t0
            bar.update(1)
        if checkpointer is not None:
            checkpointer.finish(model, curve[-1]["step"] if curve else 0)
        trained = True
        resume.discard(resume_file)  # finished: the result is what is kept
    finally:
        bar.close()
        if checkpointer is not None and not trained:
            checkpointer.discard()
        if not trained:
            for lg in loggers:
                lg.close()
    try:
        wall = time.perf_counter() - t_start
        done_steps = curve[-1]["step"] if curve else 0
        provenance: dict = versions()
        if resumed_at:  # where it went on after an interruption (the numbers are unchanged)
            provenance["resumed_at"] = resumed_at
        result = {
            "run_id": run_id(config), "config": config, "curve": curve, "status": status,
            "wall_time": wall, "cpu_time": cpu_time(), "train_time": train_time, "eval_time": eval_time,
            "steps_per_s": done_steps / train_time if train_time > 0 else float("nan"),
            "versions": provenance,
        }
        result["scores"] = score(curve, config, status, result)
        for lg in loggers:
            lg.log_scores(result["scores"])
    finally:
        for lg in loggers:
            lg.close()
    return result


def evaluate(task, model, loss_fn, metrics, config, step, train_x, train_y, test_x, test_y,
             probabilities=None, notebook_metrics=None):
    """Metrics on the full train and test sets (docs/science.md, "Metrics"), in eval mode.

    The training-set pass keeps the graph so the same forward gives ∇L for NLM alignment
    (loss without weight decay, before any optimizer transform)."""
    model.eval()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    n_train, chunk = len(train_y), int(config["eval_batch_size"])
    grads = [torch.zeros_like(p) for p in params]
    outs, losses = [], []
    # cuDNN RNNs refuse backward in eval mode; the native kernels compute the same function.
    with torch.backends.cudnn.flags(enabled=False):
        for lo in range(0, n_train, chunk):
            sl = slice(lo, min(lo + chunk, n_train))
            out = model(task.select(train_x, sl))
            per_sample = loss_fn(out, train_y[sl])
            gs = torch.autograd.grad(per_sample.sum() / n_train, params, allow_unused=True)
            for acc, g in zip(grads, gs):
                if g is not None:
                    acc.add_(g)
            outs.append(out.detach())
            losses.append(per_sample.detach())
    train_out, train_losses = torch.cat(outs), torch.cat(losses)
    with torch.no_grad():
        test_out = torch.cat([model(task.select(test_x, slice(lo, lo + chunk)))
                              for lo in range(0, len(test_y), chunk)])
        test_losses = loss_fn(test_out, test_y)
    record = {
        "step": step,
        "train_acc": task.correct(train_out, train_y, config).double().mean().item(),
        "test_acc": task.correct(test_out, test_y, config).double().mean().item(),
        "train_loss": train_losses.double().mean().item(),
        "test_loss": test_losses.double().mean().item(),
    }
    ctx = EvalContext(step, config, task, model, train_out, train_y, train_losses,
                      test_out, test_y, named, grads, probabilities)
    for entry in metrics:
        record.update(_metric_values(entry, ctx, record))
    record.update(task.extra_metrics(ctx))
    record.setdefault("weight_norm", math.sqrt(sum(p.detach().double().pow(2).sum().item()
                                                   for p in params)))
    if notebook_metrics is not None:  # grokbench.run(..., metrics=...), computed last
        record.update(notebook_metrics(ctx, record))
    return record


def _metric_values(entry, ctx, record) -> dict:
    """One plugin metric's values at this evaluation. A metric may not overwrite what the engine
    or an earlier metric recorded: a metric returning test_acc replaced the real one, and the
    scores read from it. A metric that raises is one line naming it, not a traceback."""
    try:
        values = entry.obj(ctx)
        clash = record.keys() & values.keys() or values.keys() & {"nonfinite"}
    except Exception as exc:
        raise UserError(f"metric {entry.name!r} (plugin {entry.plugin!r}) failed at step "
                        f"{ctx.step}: {type(exc).__name__}: {' '.join(str(exc).split())}; fix it, "
                        f"or set GROKBENCH_DISABLE_PLUGINS={entry.plugin}") from None
    if clash:
        raise UserError(f"metric {entry.name!r} (plugin {entry.plugin!r}) returns "
                        f"{', '.join(sorted(clash))}, already recorded by the engine or another "
                        "metric; the plugin must use names of its own, e.g. "
                        f"{entry.name}/{sorted(clash)[0]} (or set GROKBENCH_DISABLE_PLUGINS="
                        f"{entry.plugin})")
    return values


def _progress(total, enabled, desc, initial=0):
    if not enabled:
        return _NoBar()
    return tqdm(total=total, desc=desc, file=sys.stderr, unit="step", dynamic_ncols=True,
                mininterval=0.5, initial=initial)


class _NoBar:
    def update(self, n): pass
    def set_postfix(self, **kw): pass
    def close(self): pass


def run_or_load(config: dict, store=None, *, force: bool = False, progress: bool = True,
                registry=None) -> tuple[dict, bool]:
    """The result of ``config`` and whether it was read from ``store`` (a results store, or None
    for none): an identical run already there is read, not trained again (``force``: train again
    and replace it); a new one is trained and saved there. ``grokbench run`` and the Python API
    (``grokbench.run``) both come through here, so one config has one run id and one result."""
    rid = run_id(config)
    if config.get("checkpoints") and store is None:
        raise UserError("checkpoints are saved beside the results store, and this run has none "
                        "(--no-store, save=False); drop that, or drop checkpoints")
    if store is not None and not force and store.has(rid):
        stored = store.get(rid)
        for line in stored_run_notes(config, stored, store.path):
            print(line, file=sys.stderr)
        return stored, True
    if store is not None and not force and not config.get("checkpoints"):
        derived = early_stopped_from_full(config, store)
        if derived is not None:
            print(f"(read off the stored full-budget run {derived['derived_from']}: an early-stopped "
                  "run is its curve up to the decision point; --force trains it)", file=sys.stderr)
            try:
                store.check_writable()
                store.save(derived)  # found by its own id from now on
            except UserError:
                pass  # a store that cannot be written still answers
            return derived, True
    if store is not None:
        store.check_writable()  # now: a store found read-only at save time loses the run
    result = run(config, registry=registry, progress=progress,
                 checkpoint_store=store.path if store is not None else None)
    if store is not None:
        store.save(result)
    return result, False


def early_stopped_from_full(config: dict, store) -> dict | None:
    """An early-stopped request served by the same run trained to its full budget, if the store
    has it: early stop changes no step before the decision point (each step's randomness has its
    own stream), so the early-stopped run's curve is the full run's curve up to that evaluation,
    bit for bit, and its scores are the same (docs/science.md, "Scores"). The reverse cannot be
    done: a run that stopped early lacks the rest of the curve. Its timings are the full run's
    (``derived_from`` names it)."""
    if not config.get("early_stop"):
        return None
    full_id = run_id({**config, "early_stop": False})
    if not store.has(full_id):
        return None
    full = store.get(full_id)
    curve, status = full["curve"], full["status"]
    decided = decision_index(curve, config)
    if decided is not None:
        curve, status = curve[:decided + 1], "stopped_early"
    result = {**full, "run_id": run_id(config), "config": config, "curve": curve,
              "status": status, "derived_from": full_id,
              "cpu_time": full["scores"].get("cpu_time")}
    result["scores"] = score(curve, config, status, result)
    return result


def stored_run_notes(config: dict, stored: dict, store_path) -> list[str]:
    """What a request asked for that a stored run, read instead of trained, does not give: one
    line each (its checkpoints; its loggers, which log only while a run trains)."""
    notes = []
    note = missing_note(config, stored, store_path)
    if note:
        notes.append(note)
    if config.get("loggers"):
        notes.append(f"loggers {', '.join(config['loggers'])} logged nothing: run {stored['run_id']} "
                     "was read from the store, not trained; --force trains it again with them")
    return notes


def evaluate_checkpoint(run_id: str, step: int, store=None, metrics=None, device=None) -> dict:
    """The evaluation record at a checkpoint, recomputed as the engine computes it (the same
    data, metrics and code): at an evaluation step it equals the curve's record bit for bit on
    the machine that trained the run. ``metrics`` adds notebook metrics (grokbench.run)."""
    result, path = _stored(run_id, store)
    config = result["config"]
    file = checkpoint_file(result["run_id"], int(step), path)
    registry = get_registry()
    task, data, model = build(config, registry, device)
    load_into(model, file)
    device_, dtype = next(model.parameters()).device, getattr(torch, config["dtype"])
    train_x, test_x = task.to(data.train_x, device_, dtype), task.to(data.test_x, device_, dtype)
    float_y = data.info.kind != "classification"
    train_y = data.train_y.to(device_, dtype if float_y else None)
    test_y = data.test_y.to(device_, dtype if float_y else None)
    loss_entry = registry.get("losses", config["loss"])
    to_probs = loss_entry.probabilities
    probabilities = (None if to_probs is None
                     else (lambda out: to_probs(loss_input(out, config), config)))
    entries = [registry.get("metrics", m) for m in registry.names("metrics")]
    autocast, _ = mixed_precision(config, device_)
    with autocast():  # as the engine evaluates: in the run's precision
        return evaluate(task, model, loss_entry.obj(config), entries, config, int(step),
                               train_x, train_y, test_x, test_y, probabilities, compute(metrics))
