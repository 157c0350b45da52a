"""A plugin author's CI and command, with the example package examples/grokbench-lion installed
by pip into a fresh venv: the workflow's one script (ci/rank.sh) run end to end on the quick
suite, the command the package adds through register_commands, and the board `--add-method`
builds against one built from a hand-merged raw results file, and the example's committed
place on the full board."""
import json
import os
import subprocess
from pathlib import Path

from test_leaderboard import cli, tiny_suite  # noqa: F401  (the fixture)
from test_plugins import LION, ROOT, grokbench_cli, venv_with_plugin  # noqa: F401  (the fixture)

WORKFLOW = LION / ".github" / "workflows" / "grokbench.yml"
SCRIPT = LION / "ci" / "rank.sh"


def test_the_workflow_runs_the_tested_script_and_publishes_its_output():
    text = WORKFLOW.read_text(encoding="utf-8")
    # its only shell step beyond installing is the script the next test runs
    assert 'run: plugin/ci/rank.sh "$METHOD" "$SUITE"' in text
    assert "--index-url https://download.pytorch.org/whl/cpu" in text  # no CUDA wheels
    assert "actions/upload-artifact" in text and "path: ${{ env.OUT_DIR }}/" in text
    assert "OUT_DIR: grokbench-rank" in text and "METHOD: lion" in text


def test_the_ci_script_ranks_the_method_on_the_quick_suite(venv_with_plugin, tmp_path):  # noqa: F811
    """ci/rank.sh as the workflow runs it, in the venv where pip installed the package: at a
    20-step budget it builds the quick suite's board at that budget, runs Lion's 6 runs and this
    machine's wd runs, ranks them with --add-method, and writes the summary and the artifact."""
    # The venv sees grokbench through a .pth file (see venv_with_plugin), so pip made no
    # `grokbench` console script there: this one stands in for it, ahead of any other on PATH.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "grokbench").write_text(f'#!/bin/sh\nexec "{venv_with_plugin}" -m grokbench "$@"\n')
    (bin_dir / "grokbench").chmod(0o755)
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier steps' summary\n")  # GitHub appends each step's summary
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROKBENCH_")}
    path = os.pathsep.join([str(bin_dir), str(Path(venv_with_plugin).parent), env["PATH"]])
    env.update(PATH=path, OMP_NUM_THREADS="1", BUDGET_STEPS="20", WORKERS="1",
               RERUN_REFERENCE="wd", OUT_DIR="rank", STORE="runs.db",
               GITHUB_STEP_SUMMARY=str(summary))
    proc = subprocess.run(["bash", str(SCRIPT), "lion", "quick"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = tmp_path / "rank"
    for name in ("quick+lion.md", "quick+lion.json", "quick+lion.csv", "quick+lion.overall.csv",
                 "quick+lion.results.jsonl", "quick+lion.profile.png", "summary.md", "log.txt"):
        assert (out / name).stat().st_size > 0, name
    board = json.loads((out / "quick+lion.json").read_text())
    assert board["added_methods"] == ["lion", "wd (this machine)"]
    assert [t["task"] for t in board["tasks"]] == ["modadd", "parity"]
    for table in board["tasks"]:
        rows = {r["method"]: r for r in table["rows"]}
        assert set(rows) == {"baseline", "wd", "perpgrad", "stablemax", "norm", "grokfast",
                             "lion", "wd (this machine)"}
        assert rows["lion"]["runs"] == 3 and rows["lion"]["seeds"] == [0, 1, 2]
    # the raw results: the suite's 36 runs at the budget, Lion's 6 with its recipe and plugin
    raw = [json.loads(line) for line in (out / "quick+lion.results.jsonl").read_text().splitlines()]
    lion = [r for r in raw if r["method"] == "lion"]
    assert len(lion) == 6 and len(raw) == 48
    assert {(r["config"]["optimizer"], r["config"]["lr"], r["config"]["weight_decay"],
             r["config"]["steps"]) for r in lion} == {("lion", 0.001, 10.0, 20)}
    assert all(r["config"]["plugin_versions"]["grokbench-lion"] == "0.1.0" for r in lion)
    # the Markdown marks the added rows, in every table, and says where the runs ran
    table_md = (out / "quick+lion.md").read_text()
    lion_rows = [line for line in table_md.splitlines() if line.startswith("| ") and " lion †" in line]
    assert len(lion_rows) == 3  # across tasks, modadd, parity
    assert "Rows marked † were added" in table_md and "lion (added): cpu (" in table_md
    # the job summary: appended to GitHub's file, the same table, no images (they are artifacts)
    step_summary = summary.read_text()
    assert step_summary.startswith("earlier steps' summary\n# grokbench: lion on the quick board")
    assert "Smoke test, not a result" in step_summary and "![" not in step_summary
    assert step_summary.endswith((out / "summary.md").read_text())
    assert sum(" lion †" in line for line in step_summary.splitlines()) == 3
    assert "| wd (this machine) † |" in " ".join(step_summary.split())
    log = (out / "log.txt").read_text()
    assert "+ grokbench sweep --suite quick --method lion --store runs.db --dry-run" in log
    assert "6 runs in the grid (2 tasks × 1 methods × 3 seeds)" in log


def test_the_example_package_adds_a_command(venv_with_plugin):  # noqa: F811
    """examples/grokbench-lion registers `grokbench lion-vs-wd` (register_commands): listed by
    --help and by `grokbench plugins`, it trains one seed of each method with its recipe."""
    cwd = Path(venv_with_plugin).parent  # outside the source tree: only installed packages count
    out = grokbench_cli("--help", python=venv_with_plugin, cwd=cwd)
    assert out.returncode == 0 and "lion-vs-wd   One seed of Lion beside the wd method" in out.stdout
    out = grokbench_cli("plugins", python=venv_with_plugin, cwd=cwd)
    assert "commands: lion-vs-wd" in next(line for line in out.stdout.splitlines()
                                          if line.startswith("lion "))
    out = grokbench_cli("lion-vs-wd", "modadd", "--set", "p=7", "--set", "steps=5", "--no-store",
                        python=venv_with_plugin, cwd=cwd, OMP_NUM_THREADS="1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "modadd, seed 0, 5 steps (∞: not within them):"
    assert lines[1].split() == ["method", "optimizer", "lr", "weight", "decay", "lr·λ", "steps",
                                "to", "fit", "steps", "to", "generalize", "best", "test", "acc"]
    # the paper's advice: lr 10× lower and λ 10× higher than AdamW's, the same lr·λ
    assert lines[2].split()[:5] == ["lion", "lion", "0.001", "10", "0.01"]
    assert lines[3].split()[:5] == ["wd", "adamw", "0.01", "1", "0.01"]
    out = grokbench_cli("lion-vs-wd", "modadd", "--set", "steps", python=venv_with_plugin, cwd=cwd)
    assert out.returncode == 2 and out.stderr == "Error: --set takes KEY=VALUE, e.g. --set " \
                                                 "steps=1000; got 'steps'\n"


def test_the_added_board_is_the_board_of_a_hand_merged_results_file(tiny_suite, store_path,  # noqa: F811
                                                                    capsys):
    """The author's runs ranked with --add-method, and the same runs merged by hand into the
    committed raw results and ranked as a suite that lists the method: the tables are the same,
    row for row; only the † marks and the text around them differ. The submission --write
    writes holds exactly those runs, and --from rebuilds its tables exactly."""
    from test_byom import add_runs
    suites, _ = tiny_suite
    assert cli(capsys, "leaderboard", "--suite", "tiny", "--write")[0] == 0  # the committed board
    store_path.unlink()  # the author's store: only their runs
    add_runs("perpgrad", store_path)
    code, added, err = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad",
                           "--format", "json")
    assert code == 0, err
    # by hand: the store's runs of the method as raw results, appended to the committed ones
    mine = suites.parent / "mine"
    code, _, err = cli(capsys, "leaderboard", "--method", "perpgrad", "--write", "--out-dir", str(mine))
    assert code == 0, err
    merged = suites.parent / "merged.results.jsonl"
    merged.write_text((suites / "tiny.results.jsonl").read_text()
                      + (mine / "store.results.jsonl").read_text())
    (suites / "tinyplus.toml").write_text(
        (suites / "tiny.toml").read_text().replace('"wd"]', '"wd", "perpgrad"]'))
    code, by_hand, err = cli(capsys, "leaderboard", "--suite", "tinyplus", "--from", str(merged),
                             "--format", "json")
    assert code == 0, err
    added, by_hand = json.loads(added), json.loads(by_hand)
    assert added["runs"] == by_hand["runs"] == 9
    assert [t["rows"] for t in added["tasks"]] == [t["rows"] for t in by_hand["tasks"]]
    assert added["overall"]["rows"] == by_hand["overall"]["rows"]
    assert added["tasks"][0]["added"] == ["perpgrad"] and "added" not in by_hand["tasks"][0]
    # --write --out-dir: the submission is the method's raw results with the committed ones (the
    # hand-merged file's runs) and the tables, which --from rebuilds exactly from them alone
    submission = suites.parent / "submission"
    code, _, err = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad",
                       "--write", "--out-dir", str(submission))
    assert code == 0, err
    for ext in ("md", "json", "csv", "overall.csv", "results.jsonl", "profile.png"):
        assert (submission / f"tiny+perpgrad.{ext}").stat().st_size > 0, ext
    ids = lambda path: sorted(json.loads(line)["run_id"] for line in path.read_text().splitlines())
    assert ids(submission / "tiny+perpgrad.results.jsonl") == ids(merged)
    store_path.unlink()  # the maintainer has no store of the author's runs
    code, rebuilt, err = cli(capsys, "leaderboard", "--suite", "tiny", "--add-method", "perpgrad",
                             "--from", str(submission / "tiny+perpgrad.results.jsonl"),
                             "--format", "json")
    assert code == 0, err
    rebuilt = json.loads(rebuilt)
    written = json.loads((submission / "tiny+perpgrad.json").read_text())
    assert rebuilt["tasks"] == written["tasks"] and rebuilt["overall"] == written["overall"]


def test_the_committed_lion_board_rebuilds_from_its_raw_results(venv_with_plugin, tmp_path):  # noqa: F811
    """examples/grokbench-lion/results/full+lion.md, the example's place on the full board, is
    what --add-method builds from the committed full suite's raw results and Lion's own 30,
    merged by hand as its README says: byte for byte, as CI checks the bundled boards. Lion ran
    seeds 0-2 of a suite that has 5, so every method is ranked at those (--seeds 0-2)."""
    results = LION / "results"
    merged = tmp_path / "full.results.jsonl"
    merged.write_text((ROOT / "leaderboards" / "full.results.jsonl").read_text()
                      + (results / "lion.full.results.jsonl").read_text())
    out = grokbench_cli("leaderboard", "--suite", "full", "--add-method", "lion", "--seeds", "0-2",
                        "--from", str(merged), "--write", "--out-dir", str(tmp_path),
                        python=venv_with_plugin, cwd=tmp_path, OMP_NUM_THREADS="1")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "full+lion.md").read_text() == (results / "full+lion.md").read_text()
    runs = [json.loads(line) for line in (results / "lion.full.results.jsonl").read_text().splitlines()]
    assert len(runs) == 30 and {r["method"] for r in runs} == {"lion"}
