"""Bring your own method: `grokbench leaderboard --suite NAME --add-method M` ranks the store's
runs of M beside the suite's committed raw results, marks M's rows, says where each side ran
and what differs, and never writes over the suite's own board."""
import json

from test_leaderboard import cli, tiny_suite  # noqa: F401  (the fixture)


def add_runs(method, store_path, seeds=None):
    """The store's runs of `method` at the tiny suite's settings (at some of its seeds), as an
    author's sweep makes them."""
    from grokbench.engine import run
    from grokbench.grid import expand, load_suite
    from grokbench.registry import get_registry
    from grokbench.store import Store
    spec = {**load_suite("tiny"), "methods": [method]}
    spec["seeds"] = seeds if seeds is not None else spec["seeds"]
    store = Store(store_path)
    try:
        for cfg in expand(get_registry(), spec):
            store.save(run(cfg, progress=False))
    finally:
        store.close()


def test_an_added_method_is_ranked_beside_the_committed_rows(tiny_suite, store_path, capsys):  # noqa: F811
    suites, _ = tiny_suite
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--write")[0] == 0  # the committed board
    committed = {p.name: p.read_bytes() for p in suites.iterdir()}
    store_path.unlink()  # the author's store holds only their runs...
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad")
    assert code == 2 and "no runs of perpgrad" in err and "grokbench sweep --suite tiny --method perpgrad" in err
    add_runs("perpgrad", store_path)
    code, out, err = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad",
                         "--format", "json")
    assert code == 0, err
    lb = json.loads(out)
    [table] = lb["tasks"]
    assert sorted(r["method"] for r in table["rows"]) == ["baseline", "perpgrad", "wd"]
    assert lb["runs"] == 9 and "warning" not in err  # same machine and versions: nothing to warn
    code, out, _ = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad")
    assert "| perpgrad † |" in out.replace("  ", " ") or "perpgrad †" in out
    assert "perpgrad (added): cpu (" in out and "Rows marked † were added" in out
    # --write names the board after the suite and the method, and leaves the suite's own alone
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad",
                       "--write", "--out-dir", str(suites.parent / "mine"))
    assert code == 0, err
    assert (suites.parent / "mine" / "tiny+perpgrad.md").exists()
    assert {p.name: p.read_bytes() for p in suites.iterdir()} == committed
    # a maintainer rebuilds the submitted board from its raw results alone, exactly
    submitted = suites.parent / "mine" / "tiny+perpgrad.results.jsonl"
    store_path.unlink()
    code, rebuilt, err = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad",
                             "--from", str(submitted), "--format", "json")
    assert code == 0, err
    strip = lambda lb: {k: v for k, v in json.loads(lb).items() if k not in ("generated_from", "source")}
    assert strip(rebuilt)["tasks"] == strip((suites.parent / "mine" / "tiny+perpgrad.json").read_text())["tasks"]


def test_the_reference_rerun_here_sits_beside_the_committed_one(tiny_suite, store_path, capsys):  # noqa: F811
    suites, _ = tiny_suite
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--write")[0] == 0
    add_runs("perpgrad", store_path)  # the store also holds this machine's wd runs (the fixture's)
    code, out, err = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad",
                         "--rerun-reference", "--format", "json")
    assert code == 0, err
    methods = sorted(r["method"] for r in json.loads(out)["tasks"][0]["rows"])
    assert methods == ["baseline", "perpgrad", "wd", "wd (this machine)"]


def test_a_method_run_at_fewer_seeds_is_ranked_at_those_seeds(tiny_suite, store_path, capsys):  # noqa: F811
    """A suite that grew seeds (the full suite: 3, then 5) still ranks a method submitted at the
    seeds it ran: --add-method with --seeds builds the board at those seeds, every side alike."""
    suites, _ = tiny_suite
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--write")[0] == 0
    store_path.unlink()
    add_runs("perpgrad", store_path, seeds=[0, 1])
    code, out, err = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad",
                         "--format", "json")
    assert code == 0 and "1 of its 3 runs at the suite's settings are not in" in err
    code, out, err = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad",
                         "--seeds", "0-1", "--format", "json")
    assert code == 0, err
    assert "not in" not in err
    lb = json.loads(out)
    assert lb["runs"] == 6 and not lb["missing"]
    assert {r["method"]: r["seeds"] for r in lb["tasks"][0]["rows"]} == {
        "baseline": [0, 1], "wd": [0, 1], "perpgrad": [0, 1]}
    assert dict(lb["commands"])["Rebuild"].endswith("--add-method perpgrad --seeds 0-1")


def test_bad_requests_are_one_line(tiny_suite, capsys):  # noqa: F811
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--write")[0] == 0
    for args, says in [(("--add-method", "wd"), "one of suite tiny's methods already"),
                       (("--add-method", "perpgrad", "--check"), "drop --add-method"),
                       (("--rerun-reference",), "goes with --add-method")]:
        code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", *args)
        assert code == 2 and says in err and err.count("\n") == 1, err
    code, _, err = cli(capsys, "leaderboard", "--add-method", "perpgrad")
    assert code == 2 and "give --suite NAME" in err


def test_where_the_runs_ran_and_what_can_move_results():
    from grokbench.byom import fairness_warnings, provenance
    rec = lambda method, cap, device="cpu": {
        "method": method, "config": {"device": device},
        "versions": {"cpu": "EPYC", "aten_cpu_capability": cap, "grokbench": "0.1.0", "torch": "2.13.0"}}
    records = [rec("wd", "AVX512"), rec("wd", "AVX512"), rec("lion", "AVX2", "cuda")]
    assert provenance(records, ["lion"]) == [
        "lion (added): cuda (EPYC, ATen AVX2), grokbench 0.1.0, torch 2.13.0: 1 run",
        "wd: cpu (EPYC, ATen AVX512), grokbench 0.1.0, torch 2.13.0: 2 runs"]
    warnings = fairness_warnings(records, ["lion"], "wd")
    assert [w.split(":")[0] for w in warnings] == ["device differs", "ATen code path differs"]
    assert fairness_warnings(records[:2] + [rec("lion", "AVX512")], ["lion"], "wd") == []
