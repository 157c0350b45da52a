"""Typed options: a component declares each option's type, default and help (grokbench.Option);
`--set` values are read and checked against that declaration, `grokbench list` shows it, and a
plugin that declares plain defaults (as before options had types) works as it did."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from grokbench import Option, UserError
from grokbench.cli import cli
from grokbench.config import ENGINE_DECLARED, resolve, run_id
from grokbench.registry import KINDS

ROOT = Path(__file__).resolve().parent.parent


def grokbench(*args):
    """The command line in this process: (exit code, output)."""
    out = CliRunner().invoke(cli, list(args))
    return out.exit_code, out.output


def grokbench_error(*args) -> str:
    """The one-line message `grokbench ARGS` prints after "Error: " (cli.main prints a
    UserError so; test_plain_default_options_still_work sees it printed by a real process)."""
    out = CliRunner().invoke(cli, list(args))
    assert isinstance(out.exception, UserError), out.output
    return f"Error: {out.exception}"


@pytest.mark.parametrize("setting, message", [
    # a value that is not the declared type
    ("p=abc", "Error: p must be an int ≥ 2 (task modadd option: the prime modulus: operands and "
              "labels are 0..p−1 (the StableMax code: 113)); got 'abc'"),
    ("bias=maybe", "Error: bias must be true or false (model mlp option: "),
    ("lr=fast", "Error: lr must be a number ≥ 0 (grokbench setting: learning rate); got 'fast'; "
                "e.g. --set lr=0.001"),
    # out of the declared range
    ("train_frac=1.5", "Error: train_frac must be a number in [0, 1] (task modadd option: "),
    ("steps=-1", "Error: steps must be an int ≥ 0 (grokbench setting: "),
    # not one of the declared choices
    ("activation=sigmoid", "Error: activation must be one of 'relu', 'tanh', 'gelu', 'silu' "
                           "(model mlp option: nonlinearity after each hidden layer); got 'sigmoid'; "
                           "e.g. --set activation=relu"),
    ("loss_dtype=float8", "Error: loss_dtype must be one of 'float16', 'bfloat16', 'float32', "
                          "'float64' or none (loss ce option: "),
    # unknown keys: as before options had types
    ("pp=97", "Error: unknown setting 'pp' for task 'modadd'; did you mean 'p'? "),
])
def test_bad_set_values_are_one_line_errors_naming_the_option(setting, message):
    output = grokbench_error("run", "--task", "modadd", "--set", setting, "--show-config")
    assert output.startswith(message) and "\n" not in output, output


def test_set_values_are_read_as_the_declared_type():
    code, output = grokbench("run", "--task", "modadd", "--method", "grokfast", "--set", "p=97.0",
                             "--set", "train_frac=1", "--set", "grokfast_lamb=3",
                             "--set", "activation=tanh", "--show-config")
    assert code == 0, output
    config = json.loads(output)
    assert (config["p"], config["train_frac"], config["grokfast_lamb"]) == (97, 1.0, 3.0)
    assert type(config["p"]) is int and type(config["train_frac"]) is float
    assert config["activation"] == "tanh"


def test_none_given_for_an_optional_setting_is_kept_not_dropped(registry):
    """--set batch_size=none asks for full batch: it used to be dropped silently, so MNIST kept
    its task default of 200. A none for a setting that cannot be none is a one-line error."""
    assert resolve(registry, "mnist", "wd")["batch_size"] == 200
    assert resolve(registry, "mnist", "wd", {"batch_size": None})["batch_size"] is None
    out = CliRunner().invoke(cli, ["run", "--task", "mnist", "--method", "wd", "--set",
                                   "batch_size=none", "--show-config"])
    assert out.exit_code == 0 and json.loads(out.output)["batch_size"] is None
    with pytest.raises(UserError, match="lr must be a number"):
        resolve(registry, "modadd", "wd", {"lr": None})


def test_values_from_any_layer_are_checked_against_the_declaration(registry):
    """A preset or method that gives a declared option a value it does not take is refused
    when settings are resolved, not in the middle of training."""
    from grokbench import hookimpl
    from grokbench.registry import Registry

    class BadRecipe:
        @hookimpl
        def register_methods(self, register):
            register("bad-recipe", {"activation": "sigmoid"}, "a recipe with a typo")

    reg = Registry().load_entry_points()
    reg.add_plugin(BadRecipe(), "bad")
    with pytest.raises(UserError, match="activation must be one of 'relu'.*got 'sigmoid'"):
        resolve(reg, "modadd", "bad-recipe")


def test_list_shows_each_option_with_type_default_and_help():
    code, output = grokbench("list", "models")
    assert code == 0, output
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("mlp "))
    block = "\n".join(lines[at:at + 5])
    assert "width=200  (int ≥ 1)  units per hidden layer" in block
    assert "activation=relu  (relu|tanh|gelu|silu)  nonlinearity after each hidden layer" in block
    assert "bias=true  (bool)  biases in every layer" in block
    code, output = grokbench("list", "tasks")
    assert "n_test=1000  (int ≥ 2 or none)  test reviews" in output
    assert "selection=random  (random|first)  which molecules" in output
    code, output = grokbench("list", "optimizers")
    assert "grokfast_alpha=0.98  (float in [0, 1])  EMA momentum α of the slow gradient" in output


def test_every_bundled_option_and_engine_setting_has_a_type_and_help(registry):
    options = [(f"grokbench setting {k}", o) for k, o in ENGINE_DECLARED.items()]
    for kind in KINDS:
        for entry in registry.entries[kind].values():
            if registry.plugins[entry.plugin].distribution == "grokbench":
                options += [(f"{kind} {entry.name} {k}", o) for k, o in entry.options.items()]
    assert len(options) > 60
    untyped = [name for name, o in options if o.type is None or not o.help.strip()]
    assert not untyped, f"options without a type or help: {untyped}"


def test_a_declaration_whose_default_it_refuses_is_the_plugins_error():
    from grokbench import Task, hookimpl
    from grokbench.registry import Registry

    class Odd(Task):
        name, description = "odd", "a task whose declaration contradicts itself"
        options = {"n": Option(0, "samples", int, minimum=1)}

        def load(self, config):
            raise AssertionError("never loaded")

    class Plugin:
        @hookimpl
        def register_tasks(self, register):
            register(Odd)

    with pytest.raises(UserError, match=r"plugin 'oddplugin': task 'odd' declares option 'n' with "
                                        r"default 0, which is not an int ≥ 1; fix the declaration"):
        Registry().load_entry_points().add_plugin(Plugin(), "oddplugin")
    with pytest.raises(TypeError, match="Option type must be one of"):
        Option(1, "x", dict)


def test_options_and_py_typed_ship_in_the_package():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["grokbench"]
    assert (ROOT / "grokbench" / "py.typed").exists()


# -- a third-party plugin written before options had types -------------------------------------

PLAIN = textwrap.dedent('''
    import torch
    from torch import nn

    from grokbench import Task, TaskData, TaskInfo, hookimpl


    class Plain(Task):
        name, description = "plain", "options declared as plain defaults"
        options = {"n": 64, "noise": 0.5, "mode": "sum", "folder": None}
        defaults = {"model": "tiny", "steps": 2, "eval_every": 1}

        def load(self, config):
            x = torch.randn(config["n"], 3) * config["noise"]
            y = (x.sum(1) > 0).long()
            info = TaskInfo("classification", 2, "features", in_features=3)
            return TaskData(info, x[:32], y[:32], x[32:], y[32:])


    @hookimpl
    def register_tasks(register):
        register(Plain)


    @hookimpl
    def register_models(register):
        register("tiny", lambda info, config: nn.Linear(3, config["tiny_width"] // 8),
                 "one linear layer", options={"tiny_width": 16})
''')


@pytest.fixture
def plain_registry(monkeypatch):
    """The installed plugins plus PLAIN, as the registry every command of this process uses."""
    import types

    from grokbench import registry as registry_module
    module = types.ModuleType("gb_plain")
    exec(compile(PLAIN, "gb_plain.py", "exec"), module.__dict__)
    reg = registry_module.Registry().load_entry_points()
    reg.add_plugin(module, "plain", "grokbench-plain", "1.0")
    monkeypatch.setattr(registry_module, "_REGISTRY", reg)
    return reg


def test_plain_default_options_still_work(plain_registry):
    """Types read from the defaults, as they were read before declarations had types: a value
    given for an int option is an int, for a float one a float; a string option takes what it
    is given; `grokbench list` shows the inferred type, with no help; the task trains."""
    code, output = grokbench("run", "--task", "plain", "--set", "n=48.0", "--set", "noise=1",
                             "--set", "mode=3", "--set", "tiny_width=24", "--set", "folder=/x",
                             "--show-config")
    assert code == 0, output
    config = json.loads(output)
    assert (config["n"], config["noise"], config["mode"], config["tiny_width"]) == (48, 1.0, 3, 24)
    assert type(config["n"]) is int and type(config["noise"]) is float and config["folder"] == "/x"
    assert config["plugin_versions"]["grokbench-plain"] == "1.0"
    assert grokbench_error("run", "--task", "plain", "--set", "n=many", "--show-config") == \
        "Error: n must be an int (task plain option); got 'many'; e.g. --set n=64"
    code, output = grokbench("list", "tasks")
    assert code == 0, output
    lines = output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("plain "))
    assert [line.split("  ", 1)[1].strip() for line in lines[at + 1:at + 5]] == [
        "n=64  (int)", "noise=0.5  (float)", "mode=sum  (str)", "folder=none  (any)"]
    code, output = grokbench("run", "--task", "plain", "--no-store", "--json", "--quiet",
                             "--threads", "1")
    assert code == 0, output
    assert json.loads(output)["status"] == "finished"


def test_a_bad_set_value_is_one_line_from_the_installed_command(tmp_path):
    """The real process: exit status 2 and the one line, no traceback."""
    out = subprocess.run([sys.executable, "-m", "grokbench", "run", "--task", "modadd", "--set",
                          "p=abc", "--show-config"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == ("Error: p must be an int ≥ 2 (task modadd option: the prime modulus: "
                          "operands and labels are 0..p−1 (the StableMax code: 113)); got 'abc'; "
                          "e.g. --set p=113\n")


def test_plain_and_typed_declarations_resolve_to_the_same_config(registry):
    """Declaring an option with Option(default, ...) instead of its plain default changes
    nothing in the resolved config or its run id."""
    from grokbench import Task, hookimpl
    from grokbench.registry import Registry

    def plugin(options):
        class T(Task):
            name, description = "t", "a task"

            def load(self, config):
                raise AssertionError("never loaded")
        T.options = options

        class P:
            @hookimpl
            def register_tasks(self, register):
                register(T)
        reg = Registry().load_entry_points()
        reg.add_plugin(P(), "same-name")
        return reg

    plain = plugin({"n": 8, "rate": 0.5})
    typed = plugin({"n": Option(8, "samples", int, minimum=1), "rate": Option(0.5, "a rate", float)})
    for overrides in ({}, {"n": "16", "rate": 1}, {"n": 16.0, "rate": "0.25"}):
        a, b = resolve(plain, "t", "baseline", dict(overrides)), resolve(typed, "t", "baseline", dict(overrides))
        assert a == b and run_id(a) == run_id(b)
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
