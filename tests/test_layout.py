"""Facts about the code's layout that a reader should be able to rely on, checked from the source
alone: no import cycle among grokbench's modules, click only in the command modules, and plugins
that use only the public ``grokbench`` surface, as a third party must."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE, PLUGINS = ROOT / "grokbench", ROOT / "plugins"


def imports(path: Path, package: str) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in the file, top-level or inside functions.
    ``from pkg import name`` yields ``pkg.name`` when that is a module of ours, else ``pkg``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.append((full if _is_our_module(full) else base, node.lineno))
    return out


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(CORE.rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """{module: the grokbench modules it imports} (imports inside functions included: a cycle
    hidden in a function is still a cycle)."""
    modules = core_modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        graph[name] = {m for m, _ in imports(path, package) if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_among_grokbench_modules():
    graph = import_graph()
    assert len(graph) > 15 and "grokbench.commands.leaderboard" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_click_only_in_the_commands_and_cli():
    allowed = {"grokbench.cli"}
    bad = []
    for name, path in core_modules().items():
        if name in allowed or name.startswith("grokbench.commands"):
            continue
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        bad += [f"{path.relative_to(ROOT)}:{line} imports {m}"
                for m, line in imports(path, package) if m == "click" or m.startswith("click.")]
    assert not bad, "library modules stay usable without click:\n" + "\n".join(bad)


def _is_our_module(name: str) -> bool:
    if not name.startswith("grokbench."):
        return False
    rel = Path(*name.split(".")[1:])
    return (CORE / rel).with_suffix(".py").exists() or (CORE / rel / "__init__.py").exists()


def test_plugins_import_only_the_public_grokbench_surface():
    bad = []
    for path in sorted(PLUGINS.glob("*.py")):
        for name, line in imports(path, "grokbench_plugins"):
            if name.startswith("grokbench.") or name.startswith("grokbench_plugins"):
                bad.append(f"plugins/{path.name}:{line} imports {name}")
    assert not bad, "bundled plugins import only `grokbench`, as a third party does:\n" + "\n".join(bad)


def test_the_public_surface_has_what_a_plugin_needs():
    import grokbench
    for name in ("Task", "TaskData", "TaskInfo", "EvalContext", "OptimizerWrapper", "Executor",
                 "Logger", "UserError", "NotApplicable", "derive_seed", "cached", "cache_dir",
                 "data_dir", "balanced_indices", "default_download_dir", "hookimpl",
                 "CORE_METRICS"):
        assert name in grokbench.__all__ and hasattr(grokbench, name), name
    assert (CORE / "py.typed").exists()


def test_running_code_reads_records_not_reporting():
    """Sweeps, claims and the other running code read and write runs through grokbench.records;
    scoring and writing leaderboards is reporting, which running must not lean on."""
    graph = import_graph()
    reporting = {"grokbench.leaderboard", "grokbench.render", "grokbench.webpage", "grokbench.check"}
    running = ["grokbench.records", "grokbench.sweep", "grokbench.claim_runs", "grokbench.engine",
               "grokbench.byom", "grokbench.export", "grokbench.api", "grokbench.commands.sweep",
               "grokbench.commands.run", "grokbench.commands.claims"]
    bad = {m: sorted(graph[m] & reporting) for m in running if graph[m] & reporting}
    assert not bad, f"running code imports reporting modules: {bad}"
    assert "grokbench.records" in graph["grokbench.sweep"] | graph["grokbench.claim_runs"]
