"""The plugin system: bundled plugins cover every hook, hooks are documented, names are
checked, and a real third-party package installed with pip plugs in through its entry point."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import torch

from grokbench import CORE_METRICS, Task, hookimpl, hookspecs
from grokbench.config import resolve, run_id
from grokbench.errors import UserError
from grokbench.registry import KINDS, Registry

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("register_"))


def test_every_hook_kind_is_known_to_the_registry():
    assert HOOKS == sorted(f"register_{kind}" for kind in KINDS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_bundled_implementation(registry, hook):
    kind = hook[len("register_"):]
    bundled = [e for e in registry.entries[kind].values()
               if registry.plugins[e.plugin].distribution == "grokbench"]
    assert bundled, f"no bundled plugin implements {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_in_the_readme(hook):
    caller = getattr(Registry().pm.hook, hook)
    signature = f"{hook}({', '.join(caller.spec.argnames)})"
    assert signature in (ROOT / "README.md").read_text(), f"README lacks {signature}"


GUIDE = ROOT / "docs" / "plugins.md"


def guide_examples() -> list[str]:
    """The Python blocks of the plugin author's guide that implement hooks."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    return [code for code in blocks if "@hookimpl" in code]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_plugin_guide(hook):
    assert f"### {hook}\n" in GUIDE.read_text(encoding="utf-8"), f"docs/plugins.md lacks {hook}"


def test_the_plugin_guide_examples_work(tmp_path):
    """Every example of docs/plugins.md, each registered as the plugin it is, covers every hook,
    and together they train: a token task, a model, a loss, an optimizer and a wrapper, a
    method, a metric and a logger in one run; the executor runs a job."""
    from grokbench.engine import run
    reg = Registry().load_entry_points()
    for i, code in enumerate(guide_examples()):
        module = types.ModuleType(f"guide_example_{i}")
        exec(compile(code, f"{GUIDE}, example {i + 1}", "exec"), module.__dict__)
        reg.add_plugin(module, f"guide{i}")
    covered = {kind for name, info in reg.plugins.items() if name.startswith("guide")
               for kind in info.registered}
    assert covered == set(KINDS)
    config = resolve(reg, "majority", "clipped-rmsprop",
                     {"model": "linear", "loss": "smooth_ce", "steps": 20, "threads": 1,
                      "loggers": ["csv"], "log_dir": str(tmp_path)})
    assert config["wrappers"] == ["tensor_clip"] and config["lr"] == 0.003  # the per-task recipe
    result = run(config, registry=reg, progress=False)
    last = result["curve"][-1]
    assert set(CORE_METRICS) <= set(last) and "train_margin" in last and "sc_fraction" in last
    assert (tmp_path / f"{result['run_id']}.csv").read_text().count("\n") == len(result["curve"]) + 1
    # the token task works with the bundled token models too
    for model in ("mlp", "transformer"):
        assert run(resolve(reg, "majority", "baseline", {"model": model, "steps": 2, "threads": 1}),
                   registry=reg, progress=False)["status"] == "finished"
    with pytest.raises(UserError, match="length must be odd"):
        run(resolve(reg, "majority", "baseline", {"length": 8, "steps": 1}), registry=reg,
            progress=False)
    executor = reg.get("executors", "threads").obj(None)
    try:
        assert executor.submit(pow, 2, 5).result() == 32 and executor.workers == 2
    finally:
        executor.shutdown()
    from click.testing import CliRunner
    out = CliRunner().invoke(reg.get("commands", "fits").obj, ["parity", "--steps", "3"])
    assert out.exit_code == 0 and out.output.startswith("parity: fits at step"), out.output


class RecipeWithALoss:
    @hookimpl
    def register_methods(self, register):
        register("sm-on-modadd", {}, "StableMax, but only in its modadd recipe",
                 per_task={"modadd": {"loss": "stablemax"}})


def test_components_are_chosen_from_the_same_layers_the_config_is_built_from():
    """A loss chosen in a method's per-task recipe brings that loss's option defaults, as a loss
    chosen anywhere else does (config.settings_layers is the one list of layers)."""
    reg = Registry().load_entry_points()
    reg.add_plugin(RecipeWithALoss(), "recipe")
    config = resolve(reg, "modadd", "sm-on-modadd")
    assert config["loss"] == "stablemax" and config["loss_dtype"] == "float64"
    assert resolve(reg, "parity", "sm-on-modadd")["loss"] == "ce"


def register_task_class(task_cls):
    class Plugin:
        @hookimpl
        def register_tasks(self, register):
            register(task_cls)
    Registry().load_entry_points().add_plugin(Plugin(), "tasks-plugin")


def test_a_task_that_forgets_load_is_refused_when_registered_in_one_line():
    """Task is abstract where a plugin must implement: a class without load is refused when its
    plugin is registered, naming the fix, not when a run first asks for its data."""
    class NoLoad(Task):
        name, description = "noload", "a task without its data"

    with pytest.raises(UserError, match=r"^plugin 'tasks-plugin': task 'noload' does not implement "
                                        r"load\(self, config\), which every task must: define it in "
                                        r"the class \(grokbench.Task.load says what it returns\)$"):
        register_task_class(NoLoad)
    with pytest.raises(TypeError, match="abstract"):
        NoLoad()  # type: ignore[abstract]


def test_a_tasks_malformed_attributes_are_named_together():
    class Sloppy(Task):
        kind = "regresion"  # type: ignore[assignment]
        presets = {"long": 20000}  # type: ignore[dict-item]
        size_option = "n"

        def load(self, config):
            raise AssertionError("never loaded")

    with pytest.raises(UserError) as exc:
        register_task_class(Sloppy)
    message = str(exc.value)
    assert "\n" not in message and message.startswith("plugin 'tasks-plugin': task Sloppy has no name")
    for fix in ("set the class attribute description", "set kind to one of classification, "
                "binary, regression", "presets {'long': 20000}: make it a dict of dicts",
                "size_option 'n', which is not one of its options"):
        assert fix in message


def test_a_task_with_method_defaults_is_refused_naming_the_recipe():
    """Task × method settings are a method's recipe only: a task still setting the retired
    method_defaults would train without them, so it is refused when registered, in one line."""
    class Old(Task):
        name, description = "old", "a task written for the retired method_defaults"
        method_defaults = {"norm": {"init_scale": 3.0}}

        def load(self, config):
            raise AssertionError("never loaded")

    with pytest.raises(UserError, match=r"^plugin 'tasks-plugin': task 'old' sets method_defaults, "
                                        r"which grokbench no longer reads; give them as the method's "
                                        r"recipe for the task \(register_methods' per_task\) or as a "
                                        r"preset$"):
        register_task_class(Old)


def test_a_misspelled_task_attribute_is_refused_naming_the_right_one():
    """`preset = {...}` for `presets` would leave the preset unknown to every run; a near-miss of
    one of Task's names is refused, while a helper of the plugin's own is kept."""
    class Typo(Task):
        name, description = "typo", "a task with a misspelled attribute"
        preset = {"long": {"steps": 20000}}
        vocabulary = 7  # the plugin's own: not near any of Task's names

        def load(self, config):
            raise AssertionError("never loaded")

    assert Typo.declaration_problems() == [
        "sets preset, which grokbench does not read: did you mean presets? (rename it, or start "
        "a helper's name with _)"]
    with pytest.raises(UserError, match=r"^plugin 'tasks-plugin': task 'typo' sets preset, "):
        register_task_class(Typo)


def test_every_bundled_task_declares_itself_as_task_requires(registry):
    for name in registry.names("tasks"):
        assert registry.get("tasks", name).obj.declaration_problems() == [], name


class Dupe:
    @hookimpl
    def register_methods(self, register):
        register("wd", {"weight_decay": 0.5}, "another wd")


class Misspelled:
    @hookimpl
    def register_taskz(self, register):
        pass


def test_duplicate_names_are_rejected_naming_both_plugins():
    reg = Registry().load_entry_points()
    with pytest.raises(UserError, match="registered twice, by plugins 'weight_decay' and 'dupe'"):
        reg.add_plugin(Dupe(), "dupe")


def test_misspelled_hook_is_an_error_not_silence():
    with pytest.raises(UserError, match="register_taskz"):
        Registry().add_plugin(Misspelled(), "typo")


class AcmeMetric:
    @hookimpl
    def register_metrics(self, register):
        register("acme_norm", lambda ctx: {"acme_norm": 0.0}, "a third-party metric")


class AcmeOptimizer:
    @hookimpl
    def register_optimizers(self, register):
        register("acme_sgd", lambda params, c: torch.optim.SGD(params, lr=c["lr"]), "plain SGD")


def test_plugin_versions_of_the_components_used_are_part_of_the_run_id():
    import grokbench

    def config(method="perpgrad", optimizer=None, **plugins):
        reg = Registry().load_entry_points()
        for (obj, dist), version in plugins.values():
            reg.add_plugin(obj, dist, dist, version)
        return resolve(reg, "modadd", method, {"optimizer": optimizer} if optimizer else {})

    plain = config()
    assert plain["plugin_versions"] == {"grokbench": grokbench.__version__}
    # every metric runs, so an installed metric plugin is part of every run
    m1 = config(m=((AcmeMetric(), "acme-metrics"), "1.0"))
    m2 = config(m=((AcmeMetric(), "acme-metrics"), "1.1"))
    assert m1["plugin_versions"] == {"grokbench": grokbench.__version__, "acme-metrics": "1.0"}
    assert len({run_id(plain), run_id(m1), run_id(m2)}) == 3
    # an optimizer plugin counts only in the runs that use it
    o1 = config(o=((AcmeOptimizer(), "acme-opt"), "1.0"))
    assert run_id(o1) == run_id(plain)
    used1 = config("baseline", "acme_sgd", o=((AcmeOptimizer(), "acme-opt"), "1.0"))
    used2 = config("baseline", "acme_sgd", o=((AcmeOptimizer(), "acme-opt"), "2.0"))
    assert used1["plugin_versions"]["acme-opt"] == "1.0" and run_id(used1) != run_id(used2)
    # facts of the machine are recorded with the result, never in the id
    assert not {"platform", "python", "torch"} & set(plain)


def grokbench_cli(*args, python=sys.executable, cwd=None, **env):
    full_env = {**os.environ, **env}
    return subprocess.run([python, "-m", "grokbench", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd)


def test_disable_and_load_lists(tmp_path):
    out = grokbench_cli("list", "methods", GROKBENCH_DISABLE_PLUGINS="stablemax,grokfast")
    assert out.returncode == 0 and "perpgrad" in out.stdout
    assert "stablemax" not in out.stdout and "grokfast" not in out.stdout
    out = grokbench_cli("plugins", GROKBENCH_LOAD_PLUGINS="modular,perpgrad")
    names = [line.split()[0] for line in out.stdout.splitlines()[2:]]
    assert names == ["modular", "perpgrad"]
    out = grokbench_cli("plugins", GROKBENCH_LOAD_PLUGINS="nosuch")
    assert out.returncode == 2 and "unknown plugins: ['nosuch']" in out.stderr


# The example plugin package of the docs and README: the tests install and run this very package.
EXAMPLE = ROOT / "examples" / "grokbench-xor"
LION = ROOT / "examples" / "grokbench-lion"


def _offline_wheel_build() -> bool:
    """Whether this environment's setuptools can build a wheel without fetching anything:
    setuptools 70.1 and later carry bdist_wheel; older ones need the wheel package beside them."""
    import importlib.util
    from importlib.metadata import PackageNotFoundError, version
    try:
        major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def venv_with_plugin(tmp_path_factory):
    """A fresh venv that sees exactly the packages of the environment running the tests (a
    venv, conda or the system Python), with the example plugin package (examples/grokbench-xor)
    installed by pip from its own pyproject.toml."""
    import site
    tmp = tmp_path_factory.mktemp("thirdparty")
    # Copies, so that building the wheels leaves nothing behind in the source tree. The Lion
    # package (examples/grokbench-lion, a method to rank with --add-method) goes in too.
    pkgs = [str(shutil.copytree(example, tmp / example.name,
                                ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")))
            for example in (EXAMPLE, LION)]
    venv = tmp / "venv"
    # Not --system-site-packages: that shows the base interpreter's packages, which are not the
    # test environment's when the tests run in a venv. Instead a .pth file adds the site dirs of
    # the running interpreter with site.addsitedir, which also runs the .pth files in them, so an
    # editable grokbench (installed by a .pth import hook) is found too. Each dir is added once,
    # so no distribution is seen twice.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:  # pip install --user into the system Python
        dirs.append(site.getusersitepackages())
    (Path(purelib) / "_grokbench_test_env.pth").write_text(
        f"import site; list(map(site.addsitedir, {dirs!r}))\n")
    # pip (the test environment's) installs into this venv, as a user's `pip install` would.
    # Offline when setuptools can build the wheel here; otherwise pip fetches setuptools into
    # an isolated build env from the configured index, as it did for grokbench itself.
    isolation = ["--no-build-isolation"] if _offline_wheel_build() else []
    out = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", *isolation, *pkgs],
                         capture_output=True, text=True, cwd=tmp)
    assert out.returncode == 0, out.stdout + out.stderr
    return str(python)


def test_third_party_plugin_listed_with_its_distribution(venv_with_plugin):
    # from outside the source tree, so only installed packages count
    out = grokbench_cli("plugins", python=venv_with_plugin, cwd=Path(venv_with_plugin).parent)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("xor "))
    assert "grokbench-xor 0.1.0" in row and "tasks: xor" in row and "methods: sgd-momentum" in row
    # its task's option, declared with grokbench.Option, is listed with type, default and help
    out = grokbench_cli("list", "tasks", python=venv_with_plugin, cwd=Path(venv_with_plugin).parent)
    lines = out.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("xor "))
    assert "n=256  (int ≥ 4)  noisy bit pairs drawn; half are the test set" in lines[at + 1]


def test_third_party_task_and_method_run_through_the_cli(venv_with_plugin):
    out = grokbench_cli("run", "--task", "xor", "--method", "sgd-momentum+perpgrad", "--no-store",
                        "--json", "--quiet", "--threads", "1", python=venv_with_plugin,
                        cwd=Path(venv_with_plugin).parent)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["config"]["optimizer"] == "sgd" and result["config"]["wrappers"] == ["perpgrad"]
    import grokbench  # the third-party task's distribution and version are part of the run
    assert result["config"]["plugin_versions"] == {"grokbench": grokbench.__version__,
                                                   "grokbench-xor": "0.1.0"}
    assert result["scores"]["final_train_acc"] >= 0.9  # XOR is learnable by a width-16 MLP
    # outside the venv the plugin does not exist
    out = grokbench_cli("run", "--task", "xor", "--no-store")
    assert out.returncode == 2 and "unknown task 'xor'" in out.stderr


def test_a_third_party_method_runs_with_its_per_task_recipe(venv_with_plugin):
    """examples/grokbench-lion, installed by pip: its optimizer and method, and its modular
    recipe (lr 10× below and weight decay 10× above wd's) in the resolved config."""
    out = grokbench_cli("run", "--task", "modadd", "--method", "lion", "--set", "p=7", "--steps",
                        "5", "--no-store", "--json", "-q", python=venv_with_plugin)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    cfg = result["config"]
    assert (cfg["optimizer"], cfg["lr"], cfg["weight_decay"]) == ("lion", 0.001, 10.0)
    assert cfg["plugin_versions"]["grokbench-lion"] == "0.1.0" and result["status"] != "nonfinite"


def test_third_party_claim_runs_through_grokbench_claims(venv_with_plugin, tmp_path):
    """The example package ships a claim (register_claims): `grokbench claims -k xor` runs its
    sweep into the store and checks it; run again, it reuses the stored runs."""
    store = str(tmp_path / "claims.db")
    args = ("claims", "-k", "xor", "--json", "--workers", "1", "--store", store, "-q")
    out = grokbench_cli(*args, python=venv_with_plugin, cwd=Path(venv_with_plugin).parent)
    assert out.returncode == 0, out.stderr
    [claim] = json.loads(out.stdout)
    assert claim["name"] == "xor-momentum-learns" and claim["status"] == "reproduced", claim
    assert claim["runs"] == {"total": 6, "stored_before": 0, "trained": 6, "failed": 0}
    median, ratio = claim["checks"]
    assert median["holds"] and median["value"] <= 200 and median["low"] <= median["value"] <= median["high"]
    assert ratio["holds"] and 0 < ratio["value"] < 1
    out = grokbench_cli(*args, python=venv_with_plugin, cwd=Path(venv_with_plugin).parent)
    [again] = json.loads(out.stdout)
    assert again["runs"]["trained"] == 0 and again["runs"]["stored_before"] == 6
    assert [c["value"] for c in again["checks"]] == [c["value"] for c in claim["checks"]]


# -- a broken plugin stays contained: real entry points, real processes ----------------------------

BROKEN_PLUGINS = {
    "gb_import_fails": "import no_such_module_anywhere\n",
    "gb_hook_raises": textwrap.dedent("""
        from grokbench import hookimpl

        @hookimpl
        def register_methods(register):
            register("half", {"lr": 0.1}, "registered before the error: must not stay")
            raise RuntimeError("boom in the hook")
    """),
    "gb_bad_argument": textwrap.dedent("""
        from grokbench import hookimpl

        @hookimpl
        def register_methods(reg):
            reg("never", {}, "never registered")
    """),
    "gb_undecorated": textwrap.dedent("""
        def register_methods(register):
            register("silent", {}, "not a hook without @hookimpl")
    """),
}


@pytest.fixture(scope="module")
def broken_plugins_path(tmp_path_factory):
    """A folder for PYTHONPATH holding plugin modules and a distribution's metadata whose
    entry points name them: importlib.metadata finds it as it finds an installed package."""
    site = tmp_path_factory.mktemp("site")
    for module, source in BROKEN_PLUGINS.items():
        (site / f"{module}.py").write_text(source)
    info = site / "grokbench_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: grokbench-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[grokbench]\n" + "".join(f"{m[3:]} = {m}\n" for m in BROKEN_PLUGINS))
    return str(site)


def test_broken_plugins_are_skipped_with_one_line_each_and_the_rest_work(broken_plugins_path):
    out = grokbench_cli("list", "methods", PYTHONPATH=broken_plugins_path)
    assert out.returncode == 0, out.stderr
    assert "perpgrad" in out.stdout and "wd" in out.stdout  # the bundled plugins still work
    assert "half" not in out.stdout and "never" not in out.stdout and "silent" not in out.stdout
    warnings = out.stderr.splitlines()
    assert len(warnings) == 4 and all(w.startswith("warning: plugin '") for w in warnings), out.stderr
    assert "Traceback" not in out.stderr
    by_plugin = {w.split("'")[1]: w for w in warnings}
    assert "No module named 'no_such_module_anywhere'" in by_plugin["import_fails"]
    assert "RuntimeError: boom in the hook" in by_plugin["hook_raises"]
    assert "register_methods(reg)" in by_plugin["bad_argument"]
    assert "not registered" not in by_plugin["bad_argument"]
    assert "without @hookimpl" in by_plugin["undecorated"]
    for name in ("import_fails", "hook_raises", "bad_argument"):
        assert f"GROKBENCH_DISABLE_PLUGINS={name}" in by_plugin[name]
    # `grokbench plugins` lists the broken ones with the reason
    out = grokbench_cli("plugins", PYTHONPATH=broken_plugins_path)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines()[2:]}
    for name in ("import_fails", "hook_raises", "bad_argument"):
        assert "BROKEN" in rows[name] and "grokbench-broken 1.0" in rows[name]
    assert "BROKEN" not in rows["modular"] and "BROKEN" not in rows["undecorated"]
    # disabled, a broken plugin is not even imported
    out = grokbench_cli("list", "tasks", PYTHONPATH=broken_plugins_path,
                        GROKBENCH_DISABLE_PLUGINS="import_fails,hook_raises,bad_argument,undecorated")
    assert out.returncode == 0 and out.stderr == "" and "modadd" in out.stdout


def test_strict_plugins_make_a_broken_plugin_an_error(broken_plugins_path):
    out = grokbench_cli("list", "tasks", PYTHONPATH=broken_plugins_path,
                        GROKBENCH_STRICT_PLUGINS="1")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("Error: plugin '"), out.stderr
    assert "GROKBENCH_STRICT_PLUGINS" in out.stderr


class RaisesInHook:
    @hookimpl
    def register_tasks(self, register):
        raise KeyError("oops")


class WrongArgument:
    @hookimpl
    def register_tasks(self, reg):
        pass


def test_add_plugin_errors_are_one_line_and_leave_the_registry_clean():
    reg = Registry().load_entry_points()
    before = {k: dict(v) for k, v in reg.entries.items()}
    with pytest.raises(UserError, match=r"plugin 'raiser' failed in register_tasks \(KeyError") as exc:
        reg.add_plugin(RaisesInHook(), "raiser")
    assert "\n" not in str(exc.value)
    with pytest.raises(UserError, match=r"register_tasks\(reg\)") as exc:
        reg.add_plugin(WrongArgument(), "wrongarg")
    assert "\n" not in str(exc.value) and "not registered" not in str(exc.value)
    assert reg.entries == before and "raiser" not in reg.plugins and "wrongarg" not in reg.plugins
    # the names are free again: a fixed plugin registers under them
    reg.add_plugin(AcmeMetric(), "raiser")


def test_list_shows_options_and_per_task_recipes():
    from click.testing import CliRunner

    from grokbench.cli import cli
    out = CliRunner().invoke(cli, ["list", "methods"])
    assert out.exit_code == 0, out.output
    grokfast = next(line for line in out.output.splitlines() if line.startswith("grokfast"))
    assert "wrappers=['grokfast']" in grokfast
    assert "mnist: grokfast_alpha=0.8, grokfast_lamb=0.1, weight_decay=2.0" in grokfast
    out = CliRunner().invoke(cli, ["list", "losses"])
    lines = out.output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("stablemax"))
    assert "loss_dtype=float64  (float16|bfloat16|float32|float64 or none)" in lines[at + 1]
