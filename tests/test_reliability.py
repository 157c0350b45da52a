"""Bad input, hostile files and odd paths (issue 25): each class of them gets one line on stderr
that names the fix, exit status 2, no traceback, and no file changed. Every case runs the real
CLI in a subprocess against real files: a real SQLite store, a real FIFO, symlink and
/dev/null, a read-only folder."""
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from grokbench.store import Store

ROOT = Path(__file__).resolve().parent.parent
QUICK = ROOT / "leaderboards" / "quick.results.jsonl"


def records(n=None):
    lines = [json.loads(line) for line in QUICK.read_text(encoding="utf-8").splitlines()]
    return lines[:n] if n else lines


def make_store(path, n=4):
    """A real store holding the first ``n`` committed quick-suite runs (their curves are not
    committed: a two-point one stands in)."""
    from grokbench.scoring import from_jsonable
    db = Store(path)
    for rec in records(n):
        rec = from_jsonable(rec)
        db.save({"run_id": rec["run_id"], "config": rec["config"], "status": rec["status"],
                 "scores": rec["scores"], "versions": rec.get("versions") or {},
                 "curve": [{"step": 0, "train_acc": 0.0, "test_acc": 0.0},
                           {"step": 10, "train_acc": 1.0, "test_acc": 0.5}],
                 "wall_time": 1.0})
    db.close()
    return path


def cli(*args, cwd, env=None, timeout=120):
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200",
                   "GROKBENCH_STORE": str(Path(cwd) / "default-store" / "runs.db"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "grokbench", *map(str, args)], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=timeout)


def snapshot(*folders) -> dict:
    """Every entry under the folders, as what it is and holds (links and FIFOs not followed)."""
    out = {}
    for folder in folders:
        for path in [Path(folder), *sorted(Path(folder).rglob("*"))]:
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                what = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what = "-> " + os.readlink(path)
            else:
                what = stat.S_IFMT(st.st_mode)
            out[str(path)] = (what, stat.S_IMODE(st.st_mode))
    return out


def one_line_error(proc, contains):
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert len(err.splitlines()) == 1, proc.stderr
    assert err.startswith("Error: ") and contains in err, err
    return err


# -- the cases: (setup(tmp) -> command-line arguments, what the one line says) -------------------

def _store(tmp):
    return make_store(tmp / "runs.db")


def _fifo(tmp):
    os.mkfifo(tmp / "out.csv")
    return ["export", "--store", _store(tmp), "-o", tmp / "out.csv"]


def _existing_export(tmp):
    (tmp / "out.csv").write_text("somebody's table\n")
    return ["export", "--store", _store(tmp), "-o", tmp / "out.csv"]


def _results_file(lines):
    def setup(tmp):
        (tmp / "bad.jsonl").write_text("".join(line + "\n" for line in lines))
        return ["leaderboard", "--from", tmp / "bad.jsonl"]
    return setup


def _edited(**changes):
    rec = records(1)[0]
    for key, value in changes.items():
        if key.startswith("scores."):
            rec["scores"][key[7:]] = value
        elif value is None:
            del rec[key]
        else:
            rec[key] = value
    return json.dumps(rec)


def _suite(text):
    def setup(tmp):
        (tmp / "grid.toml").write_text(text)
        return ["sweep", "--file", tmp / "grid.toml", "--dry-run"]
    return setup


def _good_points(tmp):
    point = {"task": "teacher-student", "alpha": 1.0, "status": "converged", "seed": 0,
             "run_id": "0123456789abcdef", "converged": True, "w": 3.0, "w0": 3.0,
             "train_loss": 0.1, "test_loss": 0.2, "train_err": 0.0, "test_err": 0.1}
    (tmp / "good-points.jsonl").write_text(json.dumps(point) + "\n")
    return tmp / "good-points.jsonl"


def _points(tmp):
    point = {"task": "teacher-student", "alpha": 1.0, "status": "converged", "seed": 0,
             "run_id": "0123456789abcdef", "converged": True, "w": -3.0, "w0": 1.0,
             "train_loss": 0.1, "test_loss": 0.2, "train_err": 0.0, "test_err": 0.1}
    (tmp / "points.jsonl").write_text(json.dumps(point) + "\n")
    return ["landscape", "--from", tmp / "points.jsonl", "--plot", tmp / "lu.png"]


def _corrupt_committed(tmp):
    board = tmp / "board"
    shutil.copytree(ROOT / "leaderboards", board,
                    ignore=shutil.ignore_patterns("*.png", "*.html", "full*", "tuned*"))
    (board / "quick.json").write_text('{"tasks": [')
    return ["leaderboard", "--suite", "quick", "--from", board / "quick.results.jsonl", "--check",
            "--out-dir", board]


def _not_a_folder(tmp):
    (tmp / "file").write_text("x")
    return ["leaderboard", "--from", QUICK, "--write", "--out-dir", tmp / "file" / "boards"]


CASES = {
    # files that are not ours are never replaced
    "export to a FIFO": (_fifo, "is not a regular file"),
    "export to /dev/null": (lambda tmp: ["export", "--store", _store(tmp), "-o", "/dev/null"],
                            "/dev/null is not a regular file"),
    "export over an existing file": (_existing_export, "exists; add --force"),
    "plot to a device": (lambda tmp: ["plot", "--suite", "quick", "--from", QUICK, "-o",
                                      "/dev/null"], "/dev/null is not a regular file"),
    # output paths checked before any work, and a write that fails all the same is one line
    "plot into /proc": (lambda tmp: ["plot", "--suite", "quick", "--from", QUICK, "-o",
                                     "/proc/grokbench-test.png"], "/proc/"),
    "leaderboard --out-dir under a file": (_not_a_folder, "is not a folder"),
    "curve file under a file": (lambda tmp: [(tmp / "f").write_text("x"), "run", "--task",
                                             "modadd", "--json", "--curve-file", tmp / "f" / "c.json",
                                             "--no-store"][1:], "is not a folder"),
    "curve file without --json": (lambda tmp: ["run", "--task", "modadd", "--curve-file",
                                               tmp / "c.json", "--no-store"], "add --json"),
    # bounded memory
    "a hundred million seeds": (lambda tmp: ["sweep", "--task", "modadd", "--seeds", "0-100000000",
                                             "--dry-run", "--store", tmp / "s.db"],
                                "names 100000001 seeds"),
    "a hundred million α values": (lambda tmp: ["landscape", "--task", "teacher-student", "--alpha",
                                                "0.1:10:100000000", "--dry-run", "--store",
                                                tmp / "s.db"], "values of α, more than"),
    "an empty --grid": (lambda tmp: ["sweep", "--task", "modadd", "--grid", "lr=", "--dry-run",
                                     "--store", tmp / "s.db"], "names no value"),
    "an endless input file": (lambda tmp: ["leaderboard", "--from", "/dev/zero"],
                              "is longer than"),
    # option values
    "lr nan": (lambda tmp: ["run", "--task", "modadd", "--lr", "nan", "--show-config"],
               "lr must be a finite number ≥ 0"),
    "lr inf": (lambda tmp: ["run", "--task", "modadd", "--lr", "inf", "--show-config"],
               "lr must be a finite number ≥ 0"),
    "weight decay nan": (lambda tmp: ["run", "--task", "modadd", "--weight-decay", "nan",
                                      "--show-config"], "weight_decay must be a finite number"),
    "init scale nan": (lambda tmp: ["run", "--task", "modadd", "--init-scale", "nan",
                                    "--show-config"], "init_scale must be a finite number"),
    "betas outside [0, 1)": (lambda tmp: ["run", "--task", "modadd", "--set", "betas=2,3",
                                          "--show-config"], "betas must be a list of numbers in [0, 1)"),
    "beta of 1": (lambda tmp: ["run", "--task", "modadd", "--set", "betas=0.9,1",
                               "--show-config"], "in [0, 1)"),
    "negative hold_evals": (lambda tmp: ["run", "--task", "modadd", "--set", "hold_evals=-1",
                                         "--show-config"], "hold_evals must be an int ≥ 1"),
    "a wrapper twice": (lambda tmp: ["run", "--task", "modadd", "--set",
                                     "wrappers=perpgrad,perpgrad", "--show-config"],
                        "wrappers lists perpgrad more than once"),
    "a mistyped option": (lambda tmp: ["run", "--tsk", "modadd"], "No such option '--tsk'"),
    "a folder for a file": (lambda tmp: ["export", "-o", tmp], "is a directory"),
    # results files, line by line
    "results line that is a number": (_results_file(["42"]), "bad.jsonl:1 is not a JSON object"),
    "results line without run_id": (_results_file([_edited(run_id=None)]), "lacks ['run_id']"),
    "results line with a wrong type": (_results_file([_edited(seed="zero")]),
                                       "seed that is not an integer"),
    "results line with a negative step": (_results_file([_edited(**{"scores.steps_to_generalize": -5})]),
                                          "steps_to_generalize of -5"),
    "results line repeated": (_results_file([_edited(), _edited()]), "repeats run"),
    "results line whose id is not its config's": (_results_file([_edited(run_id="0" * 16)]),
                                                  "but its config's id is"),
    "results file that is not JSON": (_results_file(["{"]), "bad.jsonl:1 is not JSON"),
    # suite files
    "a scalar [grid]": (_suite('tasks = ["modadd"]\nmethods = ["wd"]\ngrid = 5\n'),
                        "'grid' must be a table"),
    "a [grid] value that is no setting's": (_suite('tasks = ["modadd"]\nmethods = ["wd"]\n'
                                                   'seeds = [0]\n[grid]\nlr = {a = 1}\n'),
                                            "lr must be a number"),
    "a model too big for the machine": (lambda tmp: ["run", "--task", "modadd", "--set",
                                                     "width=1000000", "--no-store"],
                                        "parameters: about"),
    "a misspelled task_settings": (_suite('tasks = ["modadd"]\nmethods = ["wd"]\n'
                                          '[task_settings.modad]\np = 23\n'),
                                   "did you mean 'modadd'"),
    "a task that is not a name": (_suite('tasks = [1]\nmethods = ["wd"]\n'),
                                  "'tasks' must be a non-empty list of names"),
    "an endless grid file": (lambda tmp: ["sweep", "--file", "/dev/zero", "--dry-run"],
                             "too big for a grid file"),
    # other malformed files
    "landscape point with a negative w": (_points, "has w -3.0, not a positive norm"),
    "corrupt committed JSON under --check": (_corrupt_committed, "quick.json is not"),
    # stores: read commands never create one; a store is a regular file
    "a store that is /dev/null": (lambda tmp: ["run", "--task", "modadd", "--store", "/dev/null"],
                                  "/dev/null is not a regular file"),
    "show a mistyped store": (lambda tmp: ["show", "--store", tmp / "typo" / "runs.db"],
                              "there is no results store"),
    "export a mistyped store": (lambda tmp: ["export", "--store", tmp / "typo.db"],
                                "there is no results store"),
    "leaderboard from a mistyped store": (lambda tmp: ["leaderboard", "--store", tmp / "typo.db"],
                                          "there is no results store"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_one_line_and_changes_nothing(case, tmp_path):
    setup, says = CASES[case]
    args = setup(tmp_path)
    before = snapshot(tmp_path)
    proc = cli(*args, cwd=tmp_path)
    one_line_error(proc, says)
    assert snapshot(tmp_path) == before
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and not os.path.exists("/dev/null-journal")


def test_export_writes_through_a_symlink_and_overwrites_with_force(tmp_path):
    store = make_store(tmp_path / "runs.db", 2)
    (tmp_path / "real.csv").write_text("old\n")
    os.symlink("real.csv", tmp_path / "link.csv")
    proc = cli("export", "--store", store, "-o", tmp_path / "link.csv", "--force", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert os.readlink(tmp_path / "link.csv") == "real.csv"  # still a link, to the same file
    assert (tmp_path / "real.csv").read_text().startswith("run_id,")


def test_plot_names_its_file_safely_after_a_hostile_run_id(tmp_path):
    store = make_store(tmp_path / "work" / "runs.db", 1)
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET run_id = '../../x'")
    before = snapshot(tmp_path)
    proc = cli("plot", "../../x", "--store", store, cwd=tmp_path / "work")
    assert proc.returncode == 0, proc.stderr
    assert set(snapshot(tmp_path)) - set(before) == {str(tmp_path / "work" / "grokbench-______x.png")}


def test_a_malformed_row_is_skipped_with_a_warning_naming_it(tmp_path):
    store = make_store(tmp_path / "runs.db", 3)
    bad = records(3)[1]["run_id"]
    with sqlite3.connect(store) as db:
        db.execute("UPDATE runs SET curve = 'not json', config = '[1]' WHERE run_id = ?", (bad,))
    for args in (["show"], ["export", "-o", tmp_path / "t.csv"], ["leaderboard"]):
        proc = cli(*args, "--store", store, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        assert [line for line in proc.stderr.splitlines() if bad in line] == [
            f"warning: skipped run '{bad}' of {store}: it is malformed (config is not a JSON dict)"]
    assert bad not in (tmp_path / "t.csv").read_text()
    one_line_error(cli("show", bad, "--store", store, cwd=tmp_path), f"run {bad} in")


def _read_commands(store, tmp):
    return [["show", "--store", store],
            ["show", records(1)[0]["run_id"][:8], "--store", store],
            ["export", "--store", store, "-o", tmp / "out" / "t.csv"],
            ["leaderboard", "--store", store],
            ["sweep", "--task", "modadd", "--seeds", "0", "--set", "p=23", "--dry-run", "--store",
             store]]


def test_a_store_in_a_read_only_folder_is_read_and_not_changed(tmp_path):
    """chmod: as root it does not stop writes, so what is checked is that the read commands
    write nothing (no WAL switch, no CREATE, no -wal/-shm left behind)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    store = make_store(folder / "runs.db")
    with sqlite3.connect(store) as db:  # a rollback-journal store: a WAL switch would show
        db.execute("PRAGMA journal_mode=DELETE")
    os.chmod(store, 0o444)
    os.chmod(folder, 0o555)
    try:
        before = snapshot(folder)
        for args in _read_commands(store, tmp_path):
            proc = cli(*args, cwd=tmp_path)
            assert proc.returncode == 0, (args, proc.stderr)
            assert snapshot(folder) == before, args
    finally:
        os.chmod(folder, 0o755)


def test_a_store_on_a_read_only_file_system_is_read(tmp_path):
    """A real read-only folder even for root: a read-only bind mount in a mount namespace of
    its own (unshare). As an unprivileged user (setpriv) the interpreter under /root cannot run
    here, so this stands in for that variant."""
    folder = tmp_path / "ro"
    folder.mkdir()
    store = make_store(folder / "runs.db")  # a WAL store, as grokbench writes them
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && mount -o "
             f"remount,bind,ro {folder} && ! touch {folder}/probe"],
            capture_output=True).returncode != 0:
        pytest.skip("no read-only bind mount here (needs root and unshare -m)")
    before = snapshot(folder)
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "GROKBENCH_STORE": str(tmp_path / "default-store" / "runs.db")}
    for args in _read_commands(store, tmp_path):
        command = " ".join(map(str, [sys.executable, "-m", "grokbench", *args]))
        proc = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && "
                               f"mount -o remount,bind,ro {folder} && {command}"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert snapshot(folder) == before
    # writing there is refused before any training, in one line
    proc = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && mount "
                           f"-o remount,bind,ro {folder} && {sys.executable} -m grokbench run "
                           f"--task modadd --set p=7 --steps 1 --store {store}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    one_line_error(proc, "as a results store")
    # and writing tables or a figure there is refused before any work
    for args, says in ((["leaderboard", "--from", QUICK, "--write", "--out-dir", folder / "boards"],
                        "is not writable"),
                       (["plot", "--suite", "quick", "--from", QUICK, "-o", folder / "p.png"],
                        "is not writable"),
                       (["landscape", "--from", _good_points(tmp_path), "--plot", folder / "lu.png"],
                        "is not writable")):
        command = " ".join(map(str, [sys.executable, "-m", "grokbench", *args]))
        proc = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind {folder} {folder} && "
                               f"mount -o remount,bind,ro {folder} && {command}"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)
        one_line_error(proc, says)
    assert snapshot(folder) == before


def test_the_evaluation_schedule_is_lazy_and_the_same():
    """The schedule the engine tests ``step in`` is computed, not listed: the same steps as the
    list it replaced, and a budget of 10^12 steps costs no memory."""
    from grokbench.engine import eval_schedule

    def listed(steps, every, per_decade):
        points = {0}
        if per_decade >= 10:
            points.update(range(0, min(10, steps) + 1))
        k = 1.0
        while k < every:
            points.add(int(round(k)))
            k *= 10 ** (1 / per_decade)
        points.update(range(every, steps + 1, every))
        points.add(steps)
        return sorted(p for p in points if p <= steps)

    for steps in [*range(0, 40), 99, 100, 101, 1000, 1001, 3000]:
        for every in (1, 3, 7, 10, 11, 50, 100, 101, 1000):
            for per_decade in (1, 3, 10, 20):
                want = listed(steps, every, per_decade)
                got = eval_schedule(steps, every, per_decade)
                assert list(got) == want and len(got) == len(want) and got[-1] == want[-1]
                assert [s for s in range(-1, steps + 2) if s in got] == want
    huge = eval_schedule(10**12, 100)
    assert len(huge) == 10**10 + 20 and 10**12 in huge and 10**12 - 1 not in huge


def test_api_arguments_of_the_wrong_type_are_one_line_errors(tmp_path):
    import grokbench
    from grokbench.errors import UserError
    with pytest.raises(UserError, match=r"^method must be a string, e.g. method='wd\+perpgrad'"):
        grokbench.run("parity", ["wd", "perpgrad"], save=False)
    with pytest.raises(UserError, match="^method must be a string"):
        grokbench.run("parity", None, save=False)
    with pytest.raises(UserError, match="^task must be a string"):
        grokbench.run(3, save=False)
    pytest.importorskip("pandas")
    with pytest.raises(UserError, match=r"^runs\(method=...\) takes a string"):
        grokbench.runs(store=tmp_path / "none.db", method=5)


def test_a_plugin_cannot_take_over_a_bundled_name(tmp_path):
    """A third-party plugin found first that registers ``wd`` is refused in one line naming
    both plugins; the bundled ``wd`` keeps working; disabling the bundled one lets it in."""
    site = tmp_path / "site"
    (site / "stranger-1.0.dist-info").mkdir(parents=True)
    (site / "stranger-1.0.dist-info" / "METADATA").write_text("Name: stranger\nVersion: 1.0\n")
    (site / "stranger-1.0.dist-info" / "entry_points.txt").write_text(
        "[grokbench]\nstranger = stranger_plugin\n")
    (site / "stranger_plugin.py").write_text(
        "import grokbench\n\n@grokbench.hookimpl\ndef register_methods(register):\n"
        "    register('wd', {'weight_decay': 9.0}, 'not the bundled recipe')\n")
    env = {"PYTHONPATH": str(site)}
    proc = cli("run", "--task", "modadd", "--method", "wd", "--show-config", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["weight_decay"] != 9.0
    warning = [line for line in proc.stderr.splitlines() if "stranger" in line]
    assert len(warning) == 1 and "method 'wd' is registered twice, by plugins 'weight_decay' and " \
        "'stranger': a name of the bundled plugin 'weight_decay' is reserved" in warning[0]
    proc = cli("run", "--task", "modadd", "--method", "wd", "--show-config", cwd=tmp_path,
               env={**env, "GROKBENCH_DISABLE_PLUGINS": "weight_decay"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["weight_decay"] == 9.0


def test_check_compares_the_committed_csvs(tmp_path):
    """--check covers every file it names: a cell edited in the committed CSV is found."""
    board = tmp_path / "board"
    shutil.copytree(ROOT / "leaderboards", board,
                    ignore=shutil.ignore_patterns("*.png", "*.html", "full*", "tuned*"))
    text = (board / "quick.csv").read_text()
    header, first, rest = text.split("\n", 2)
    (board / "quick.csv").write_text("\n".join([header, first.replace(",3,", ",2,", 1), rest]))
    proc = cli("leaderboard", "--suite", "quick", "--from", board / "quick.results.jsonl",
               "--check", "--out-dir", board, cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "quick.csv is not the rendering of quick.json" in proc.stderr
    assert "quick.overall.csv" not in proc.stderr


def test_check_compares_the_web_pages_tables_cell_for_cell(tmp_path):
    """A page is checked by its tables, not only by the digest it carries: a cell edited under
    the right digest is found."""
    from grokbench.render import read_json
    from grokbench.webpage import DIGEST_META, tables_digest, tables_html
    board = tmp_path / "board"
    shutil.copytree(ROOT / "leaderboards", board,
                    ignore=shutil.ignore_patterns("*.png", "*.html", "full*", "tuned*"))
    lb = read_json((board / "quick.json").read_text(encoding="utf-8"))
    page = (f'<meta name="{DIGEST_META}" content="{tables_digest(lb)}">'
            + "".join(tables_html(lb).values()))
    args = ["leaderboard", "--suite", "quick", "--from", board / "quick.results.jsonl", "--check",
            "--out-dir", board]
    (board / "quick.html").write_text(page, encoding="utf-8")
    assert "quick.html" not in cli(*args, cwd=tmp_path).stderr
    (board / "quick.html").write_text(page.replace(">perpgrad</td>", ">wd</td>", 1), encoding="utf-8")
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 1
    assert "quick.html does not show the committed table-overall of quick.json cell for cell" in proc.stderr


def test_a_scalar_under_grid_is_one_value(tmp_path):
    (tmp_path / "grid.toml").write_text('tasks = ["modadd"]\nmethods = ["wd"]\nseeds = [0]\n'
                                        '[settings]\np = 23\n[grid]\nlr = 0.01\n')
    proc = cli("sweep", "--file", tmp_path / "grid.toml", "--dry-run", "--store", tmp_path / "s.db",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1 runs in the grid (1 tasks × 1 methods × 1 seeds × 1 lr)" in proc.stdout
    assert not (tmp_path / "s.db").exists()  # a dry run creates no store


def test_claims_without_training_create_no_store(tmp_path):
    proc = cli("claims", "-k", "perpgrad-groks-modadd", "--no-run", "--store",
               tmp_path / "typo" / "runs.db", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "typo").exists()
