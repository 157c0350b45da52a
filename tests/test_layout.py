"""Facts about the code's layout that a reader should be able to rely on, checked from the source
alone (nothing is imported): plugins use only the public ``grokbench`` surface, as a third party
must."""
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
