"""Plugin loading and the registry of everything plugins provide.

Plugins (bundled and third-party alike) are found through the ``grokbench`` entry-point group;
the core never imports a plugin module by name. ``GROKBENCH_LOAD_PLUGINS`` (comma-separated
entry-point names) is an allow-list, ``GROKBENCH_DISABLE_PLUGINS`` a deny-list.

A plugin that fails to import, is invalid, or raises in a hook is skipped with a one-line
warning (the rest keep working, and ``grokbench plugins`` lists it as broken with the reason);
``GROKBENCH_STRICT_PLUGINS=1`` makes that an error instead (for CI).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs
from .api import Task
from .claims import Claim
from .errors import UserError
from .options import Option, declare_all
from .search_space import validate_space

KINDS = ("tasks", "models", "losses", "optimizers", "methods", "metrics", "executors", "loggers",
         "claims", "commands")


def singular(kind: str) -> str:
    """"losses" -> "loss", "tasks" -> "task"."""
    return kind[:-2] if kind.endswith("sses") else kind[:-1]


@dataclass
class Entry:
    """One registered thing: a task class, a model builder, a method recipe ..."""

    kind: str
    name: str
    obj: Any
    description: str
    plugin: str
    #: {name: Option}: what the component lets you set (a plain value is declared as Option(value))
    options: dict[str, Option] = field(default_factory=dict)
    wrapper: bool = False  # optimizers only: wraps another optimizer
    # losses only: outputs -> class probabilities as the loss sees them (Softmax Collapse is
    # measured on these), and the task kinds the loss applies to (None: any)
    probabilities: Callable | None = None
    task_kinds: tuple | None = None
    # methods only: the method's published recipe per task, {task: settings}
    per_task: dict = field(default_factory=dict)
    # methods only: what tuning may draw, {setting: distribution} (grokbench.tuning); None: none
    search_space: dict | None = None


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    registered: dict = field(default_factory=dict)  # kind -> [names]
    error: str | None = None  # why the plugin is broken (it was skipped); None: it works


class Registry:
    def __init__(self):
        self.pm = pluggy.PluginManager("grokbench")
        self.pm.add_hookspecs(hookspecs)
        self.entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self.plugins: dict[str, PluginInfo] = {}

    # -- loading -------------------------------------------------------------------------
    def load_entry_points(self):
        allow = _env_list("GROKBENCH_LOAD_PLUGINS")
        deny = set(_env_list("GROKBENCH_DISABLE_PLUGINS") or [])
        seen = set()
        # The bundled plugins first, whatever the discovery order: their names are reserved, so
        # a third-party plugin registering one (``wd``) is the one refused, not the bundled one
        # (which left ``--method wd`` training the stranger's recipe under the trusted name).
        eps = sorted(entry_points(group="grokbench"), key=lambda ep: _distribution(ep) != "grokbench")
        for ep in eps:
            if ep.name in seen or ep.name in deny or (allow is not None and ep.name not in allow):
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            dist_name, version = (dist.name, dist.version) if dist else (None, None)
            try:
                module = ep.load()
            except Exception as exc:  # a broken third-party plugin must not take the CLI down
                self._broken(ep.name, dist_name, version,
                             f"plugin {ep.name!r} ({ep.value}) failed to import ({_one_line(exc)})")
                continue
            try:
                self.add_plugin(module, ep.name, dist_name, version)
            except UserError as exc:  # invalid, a hook raised, or a name already taken
                self._broken(ep.name, dist_name, version, str(exc))
        if allow is not None:
            missing = set(allow) - seen
            if missing:
                raise UserError(f"GROKBENCH_LOAD_PLUGINS names unknown plugins: {sorted(missing)}; "
                                "`grokbench plugins` lists the installed ones")
        return self

    def add_plugin(self, module, name: str, distribution=None, version=None):
        """Register one plugin module (or object) and collect what it registers. A plugin that
        is invalid or whose hook raises is unregistered again, with nothing it registered kept,
        and the reason is a UserError naming it."""
        if name in self.plugins:
            raise UserError(f"two plugins are both named {name!r}; uninstall one of them")
        fix = f"fix or uninstall it, or set GROKBENCH_DISABLE_PLUGINS={name}"
        try:
            self.pm.register(module, name)
            self.pm.check_pending()  # a misspelled hook name is an error, not silence
        except (pluggy.PluginValidationError, ValueError) as exc:
            # Unregister by name and only if pluggy holds it: a plugin refused halfway may
            # not be registered, and unregistering it then hid this error behind another.
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            raise UserError(f"plugin {name!r} is invalid ({_one_line(exc)}); hooks are "
                            "register_<kind>(register), see the README's plugin section; "
                            + fix) from None
        info = PluginInfo(name, distribution, version)
        self.plugins[name] = info
        # Call this plugin's implementations only, so each registration is attributed to it.
        try:
            self._warn_undecorated(module, name)
            for kind in KINDS:
                for impl in getattr(self.pm.hook, f"register_{kind}").get_hookimpls():
                    if impl.plugin is module:
                        try:
                            impl.function(register=self._registrar(kind, name, info))
                        except UserError:
                            raise
                        except Exception as exc:
                            raise UserError(f"plugin {name!r} failed in register_{kind} "
                                            f"({_one_line(exc)}); {fix}") from None
        except UserError:
            for kind, names in info.registered.items():  # nothing half-registered stays
                for entry_name in names:
                    self.entries[kind].pop(entry_name, None)
            del self.plugins[name]
            self.pm.unregister(name=name)
            raise
        return info

    def _warn_undecorated(self, module, name):
        """A register_* function without @hookimpl is ignored by pluggy without a word."""
        for kind in KINDS:
            hook = f"register_{kind}"
            hooked = any(i.plugin is module for i in getattr(self.pm.hook, hook).get_hookimpls())
            if callable(getattr(module, hook, None)) and not hooked:
                message = (f"plugin {name!r} has a {hook} function without @hookimpl, so it is "
                           "ignored; decorate it with @grokbench.hookimpl")
                if _strict():
                    raise UserError(message)
                _warn(message)

    def _broken(self, name, distribution, version, reason):
        """Skip a plugin that cannot be loaded: warn in one line (error when strict) and keep
        it listed as broken."""
        head, _, fix = reason.partition("; fix or uninstall it")
        fix = "fix or uninstall it" + (fix or f", or set GROKBENCH_DISABLE_PLUGINS={name}")
        if _strict():
            raise UserError(f"{head}; {fix} (GROKBENCH_STRICT_PLUGINS is set)")
        self.plugins[name] = PluginInfo(name, distribution, version, error=head)
        _warn(f"{head}; it is skipped; {fix}")

    def _registrar(self, kind: str, plugin: str, info: PluginInfo) -> Callable:
        def register(*args, **kwargs):
            entry = _make_entry(kind, plugin, *args, **kwargs)
            existing = self.entries[kind].get(entry.name)
            if existing is not None and self.plugins[existing.plugin].distribution == "grokbench" \
                    and info.distribution != "grokbench":
                raise UserError(f"{singular(kind)} {entry.name!r} is registered twice, by plugins "
                                f"{existing.plugin!r} and {plugin!r}: a name of the bundled plugin "
                                f"{existing.plugin!r} is reserved; to use {plugin}'s instead, say "
                                f"so: set GROKBENCH_DISABLE_PLUGINS={existing.plugin}")
            if existing is not None:
                raise UserError(f"{singular(kind)} {entry.name!r} is registered twice, by plugins "
                                f"{existing.plugin!r} and {plugin!r}; disable one with "
                                f"GROKBENCH_DISABLE_PLUGINS")
            self.entries[kind][entry.name] = entry
            info.registered.setdefault(kind, []).append(entry.name)
        return register

    # -- lookup --------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            known = ", ".join(sorted(self.entries[kind])) or "none"
            raise UserError(f"unknown {singular(kind)} {name!r}; known {kind}: {known} "
                            f"(`grokbench list {kind}`)") from None

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])


def _make_entry(kind, plugin, *args, **kwargs) -> Entry:
    if kind == "tasks":
        (task_cls,) = args
        if not (isinstance(task_cls, type) and issubclass(task_cls, Task)):
            raise UserError(f"plugin {plugin!r} registered {task_cls!r} as a task: a task is a "
                            "subclass of grokbench.Task")
        problems = task_cls.declaration_problems()
        if problems:
            name = getattr(task_cls, "name", None)
            label = repr(name) if isinstance(name, str) and name.strip() else task_cls.__name__
            raise UserError(f"plugin {plugin!r}: task {label} " + "; and ".join(problems))
        return Entry(kind, task_cls.name, task_cls, task_cls.description, plugin,
                     options=declare_all(task_cls.options, f"plugin {plugin!r}: task {task_cls.name!r}"))
    if kind == "claims":
        (claim,) = args
        if not isinstance(claim, Claim):
            raise UserError(f"plugin {plugin!r} registered {claim!r} as a claim: a claim is a "
                            "grokbench.Claim")
        return Entry(kind, claim.name, claim, claim.statement, plugin)
    if kind == "commands":
        (command,) = args
        # a click.Command, known by what it has (the library modules do not import click)
        if not (callable(getattr(command, "invoke", None)) and getattr(command, "name", None)):
            raise UserError(f"plugin {plugin!r} registered {command!r} as a command: a command "
                            "is a click.Command (a function decorated with @click.command())")
        return Entry(kind, command.name, command, (command.help or "").strip().split("\n")[0],
                     plugin)
    if kind == "methods":
        name, settings, description = args
        space = kwargs.get("search_space")
        if space is not None:
            space = validate_space(space, f"plugin {plugin!r}, method {name!r}")
        return Entry(kind, name, dict(settings), description, plugin,
                     per_task={t: dict(v) for t, v in (kwargs.get("per_task") or {}).items()},
                     search_space=space)
    name, obj, description = args[:3]
    if not callable(obj):
        raise UserError(f"plugin {plugin!r} registered {singular(kind)} {name!r} with a non-callable")
    kinds = kwargs.get("task_kinds")
    options = declare_all(kwargs.get("options"), f"plugin {plugin!r}: {singular(kind)} {name!r}")
    return Entry(kind, name, obj, description, plugin, options=options,
                 wrapper=bool(kwargs.get("wrapper", False)),
                 probabilities=kwargs.get("probabilities"),
                 task_kinds=tuple(kinds) if kinds is not None else None)


def _strict() -> bool:
    return os.environ.get("GROKBENCH_STRICT_PLUGINS", "").strip().lower() not in ("", "0", "false", "no")


def _warn(message: str):
    print(f"warning: {message}", file=sys.stderr)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _distribution(ep) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.name if dist else None


def _env_list(var):
    value = os.environ.get(var)
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded from entry points on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry().load_entry_points()
    return _REGISTRY
