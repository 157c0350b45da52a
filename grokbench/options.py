"""Typed, self-describing settings: what a component declares about each of its options.

A task, model, loss or optimizer declares its options as ``{name: Option(default, help, ...)}``;
the engine declares its own settings the same way (``config.ENGINE_OPTIONS``). From the
declaration come the default (the only thing that enters a run's config), the reading of a
command-line value into the option's type, the check of its range or choices, and what
``grokbench list`` shows. A plain value (``{"p": 113}``) is still a declaration: its type is
read from the values, as before options had types, and it has no help.
"""
from __future__ import annotations

import ast
import builtins
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import UserError

_TYPES = (bool, int, float, str, list)


@dataclass(frozen=True)
class Option:
    """One option of a component: its default, one line of help, and what values it takes.

    ``type`` is ``bool``, ``int``, ``float``, ``str`` or ``list`` (None: read from the default
    and the values the settings layers give it, as for a plain value). ``items`` is the type of
    a list's elements (``float`` for ``betas``). ``choices`` lists the values allowed;
    ``minimum``/``maximum`` bound a number (inclusive). ``optional=True`` also allows None (an
    option whose default is None always does); say in ``help`` what None means.
    """

    default: Any
    help: str = ""
    type: builtins.type | None = None
    items: builtins.type | None = None
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False
    #: an option added after runs were committed, whose default reproduces what those runs
    #: computed: at its default it is left out of the run id, so they keep their ids
    #: (docs/science.md, "Run ids"). Its value is still in the config (``--show-config``).
    omit_default_from_id: bool = False
    #: ``maximum`` itself is not allowed (Adam's betas are in [0, 1))
    exclusive_maximum: bool = False

    def __post_init__(self):
        if self.type is not None and self.type not in _TYPES:
            raise TypeError(f"Option type must be one of bool, int, float, str, list; got {self.type!r}")
        if self.items is not None and self.items not in _TYPES:
            raise TypeError(f"Option items must be one of bool, int, float, str, list; got {self.items!r}")
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))

    @property
    def allows_none(self) -> bool:
        return self.optional or self.default is None

    def type_name(self) -> str:
        """The type as ``grokbench list`` shows it: ``int ≥ 2``, ``relu|tanh``, ``float or none``."""
        kind = self.type or _inferred(self.default)
        if kind is None:
            return "any"
        text = kind.__name__
        items = self.items or (_list_items(self.default) if kind is list else None)
        if items is not None:
            text += f"[{items.__name__}]"
        if self.choices is not None:  # the choices say the type
            text = "|".join(spell(c) for c in self.choices if c is not None)
        text += _range_text(self.minimum, self.maximum, self.exclusive_maximum)
        return text + (" or none" if self.allows_none else "")


def spell(value) -> str:
    """A value as it is written after ``--set name=``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(spell(v) for v in value) if value else "[]"
    return str(value)


def declare(value) -> Option:
    """An option declaration: an :class:`Option` as it is, a plain value as ``Option(value)``."""
    return value if isinstance(value, Option) else Option(value)


#: setting -> the defaults at which it is left out of a run id (``Option.omit_default_from_id``),
#: from every declaration made in this process (the engine's, and each plugin's as it registers)
ID_OMITTED_DEFAULTS: dict[str, set[str]] = {}


def declare_all(options: Mapping[str, Any] | None, where: str) -> dict[str, Option]:
    """A component's options as declarations, each checked against itself: a default outside its
    own type, choices or range is the plugin's mistake, named here rather than at run time."""
    out = {}
    for name, value in (options or {}).items():
        option = declare(value)
        problem = option_problem(option, option.default)
        if problem:
            raise UserError(f"{where} declares option {name!r} with default {option.default!r}, "
                            f"which is not {problem}; fix the declaration")
        if option.omit_default_from_id:
            ID_OMITTED_DEFAULTS.setdefault(name, set()).add(_spelled(option.default))
        out[name] = option
    return out


def _spelled(value) -> str:
    return json.dumps(value, sort_keys=True)


def omitted_from_id(name: str, value) -> bool:
    """Whether ``name=value`` is left out of a run id: a later-added option at the default that
    reproduces the runs computed before it existed. (A run id is computed for every config a
    sweep plans: only the few such settings are spelled out.)"""
    spellings = ID_OMITTED_DEFAULTS.get(name)
    return spellings is not None and _spelled(value) in spellings


def defaults(options: Mapping[str, Option]) -> dict[str, Any]:
    return {name: option.default for name, option in options.items()}


def setting_type(option: Option, *values) -> type | None:
    """The type a value given for this option is read as: the declared type; for an option
    declared without one (a plain value), the type of its default and of the values the layers
    give it, where a number written 1 in one place and 1.0 in another is a float."""
    if option.type is not None:
        return option.type
    types = {type(v) for v in (option.default, *values) if v is not None}
    for kind in (bool, float, int, list, str):
        if kind in types:
            return kind
    return None


def coerce(name: str, option: Option, value, where: str, current=None, fix: str | None = None):
    """A value from the command line or a grid file, read as the option's type (so that one
    value has one spelling in the config, and one run id: for a float option 0, 0.0 and "0"
    are 0.0, for a bool one 1, "1" and "true" are True) and checked against its choices and
    range. A value it cannot be is a one-line :class:`UserError` naming the option, what it
    takes, who declares it, and ``fix`` (default: ``--set name=DEFAULT``)."""
    kind = setting_type(option, current)
    if value is None:
        if option.type is not None and not option.allows_none:
            raise UserError(_message(name, option, kind, value, where, fix))
        return None
    if kind is list:
        value = _coerce_list(name, option, value, where, current, fix)
    elif kind in (bool, int, float):
        parsed = parse_value(value) if isinstance(value, str) else value
        value = _coerce_scalar(kind, parsed)
        if value is _BAD:
            raise UserError(_message(name, option, kind, parsed, where, fix))
    elif option.type is str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # --set data_dir=2024 is the folder "2024"
        elif not isinstance(value, str):
            raise UserError(_message(name, option, kind, value, where, fix))
    check(name, option, value, where, fix)
    return value


def check(name: str, option: Option, value, where: str, fix: str | None = None):
    """A value of the option (from any settings layer) against its declared type, choices and
    range."""
    problem = option_problem(option, value)
    if problem:
        raise UserError(_message(name, option, setting_type(option, value), value, where, fix,
                                 problem))


def option_problem(option: Option, value) -> str | None:
    """What the value is not (as "an int ≥ 1"), or None when the option takes it."""
    kind = option.type
    wanted = _expectation(option, kind)
    if value is None:
        return None if option.allows_none or kind is None else wanted
    if kind is not None and not _is_a(kind, value):
        return wanted
    if kind is list and option.items is not None and not all(_is_a(option.items, v) for v in value):
        return wanted
    if option.choices is not None and value not in option.choices:
        return wanted
    numbers = value if isinstance(value, list) else [value]
    if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
        # NaN passes every range check (nan < 0 is false) and inf reaches torch as a traceback
        return wanted.replace("number", "finite number", 1) if "number" in wanted else \
            "a finite number"
    for number in numbers if (option.minimum is not None or option.maximum is not None) else ():
        if _is_a(float, number) and (
                (option.minimum is not None and number < option.minimum)
                or (option.maximum is not None and number > option.maximum)
                or (option.exclusive_maximum and number == option.maximum)):
            return wanted
    return None


# -- reading values ---------------------------------------------------------------------

def parse_value(text: str):
    """Parse a command-line value: numbers, booleans, None, lists ("0.9,0.99"), else a string."""
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return list(value) if isinstance(value, tuple) else value


_BAD = object()


def _coerce_scalar(kind, value):
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
    elif isinstance(value, bool):
        pass  # true is not a number
    elif kind is int:
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)):
            return float(value)
    return _BAD


def _coerce_list(name, option, value, where, current, fix):
    """A list of numbers (betas) has float elements; a list of names (wrappers) stays as given.
    An option declared without a type keeps any value that is not a list of numbers as it is."""
    if option.type is not None:
        items = option.items
    else:  # as the default (or, when it is None, the layers' value) is written
        items = _list_items(option.default if option.default is not None else current)
    if not isinstance(value, list):
        if option.type is None:
            return value
        raise UserError(_message(name, option, list, value, where, fix))
    if items is float:
        parsed = [parse_value(v) if isinstance(v, str) else v for v in value]
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in parsed):
            raise UserError(_message(name, option, list, value, where, fix))
        return [float(v) for v in parsed]
    return value


def _is_a(kind, value) -> bool:
    if kind is float:  # an int is a number; true is not
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _inferred(default):
    for kind in (bool, int, float, str, list):
        if isinstance(default, kind):
            return kind
    return None


def _list_items(value):
    """float for a non-empty list of floats (as betas is declared), else None."""
    if isinstance(value, list) and value and all(isinstance(v, float) for v in value):
        return float
    return None


# -- words ------------------------------------------------------------------------------

_WORDS: dict[Any, str] = {bool: "true or false", int: "an int", float: "a number",
                          str: "a string", list: "a list", None: "a value"}


def _expectation(option: Option, kind) -> str:
    """What the option takes, in words: "an int ≥ 1", "one of 'relu', 'tanh'", "a list of numbers"."""
    if option.choices is not None:
        text = "one of " + ", ".join(repr(c) for c in option.choices if c is not None)
        return text + (" or none" if option.allows_none else "")
    if kind is list:
        items = option.items or _list_items(option.default)
        text = {float: "a list of numbers", str: "a list of names"}.get(items, "a list")
    else:
        text = _WORDS.get(kind, "a value")
    text += _range_text(option.minimum, option.maximum, option.exclusive_maximum)
    return text + (" (or none)" if option.allows_none and kind is not None else "")


def _range_text(minimum, maximum, exclusive: bool = False) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}" + (")" if exclusive else "]")
    if minimum is not None:
        return f" ≥ {minimum}"
    if maximum is not None:
        return f" {'<' if exclusive else '≤'} {maximum}"
    return ""


def _message(name, option, kind, value, where, fix, wanted: str | None = None) -> str:
    help_text = f": {option.help}" if option.help else ""
    if fix is None and option.default is not None:
        fix = f"--set {name}={spell(option.default)}"
    wanted = wanted or _expectation(option, kind)
    return (f"{name} must be {wanted} ({where}{help_text}); got {value!r}"
            + (f"; e.g. {fix}" if fix else ""))

