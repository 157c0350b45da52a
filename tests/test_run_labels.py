"""`grokbench run`'s honest labels and combination rules (issue 29, item 2): the scores table
says where its values were read (the decision point, or the last evaluation); --method given
twice is an error in `run` and means several methods in plot and leaderboard;
--show-config --explain names the layer that set each value."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import grokbench

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "grokbench", *args], capture_output=True,
                          text=True, env=ENV, cwd=ROOT)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def rows(table: str) -> dict:
    """The scores table's rows: {label: value}."""
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if len(cells) == 2:
            out[cells[0]] = cells[1]
    return out


def test_values_are_labelled_with_where_they_were_read(tmp_path):
    store = tmp_path / "runs.db"
    # ⊥AdamW on modadd mod 31 (70 % of the pairs) generalizes at ~100 and holds it by ~200:
    # trained on to 300 (3 s)
    small = {"p": 31, "train_frac": 0.7, "store": store, "progress": False, "threads": 1}
    result = grokbench.run("modadd", "perpgrad", steps=300, early_stop=False, **small)
    decided = result.scores["decided_at"]
    assert decided is not None and decided < 300
    at = {r["step"]: r for r in result.records}
    table = rows(cli("show", result.run_id, "--store", str(store)).stdout)
    assert not any("(final)" in label for label in table)
    assert table[f"weight norm at the decision point (step {decided})"] == \
        f"{at[decided]['weight_norm']:.4g}"
    assert table["weight norm at the last evaluation (step 300)"] == f"{at[300]['weight_norm']:.4g}"
    assert table[f"NLM cosine at the decision point (step {decided})"] == \
        f"{at[decided]['nlm_cosine']:.4g}"
    assert table["NLM cosine at the last evaluation (step 300)"] == f"{at[300]['nlm_cosine']:.4g}"
    assert table[f"train / test acc at the decision point (step {decided})"] == \
        f"{at[decided]['train_acc']:.4g} / {at[decided]['test_acc']:.4g}"
    assert "best test acc up to the decision point" in table
    # a run that never reached its decision point reads everything at its last evaluation
    short = grokbench.run("modadd", "perpgrad", steps=30, **small)
    table = rows(cli("show", short.run_id, "--store", str(store)).stdout)
    assert table["weight norm at the last evaluation (step 30)"] == \
        f"{short.records[-1]['weight_norm']:.4g}"
    assert not any("decision point" in label for label in table)


def test_method_given_twice_is_one_line_in_run():
    proc = cli("run", "--task", "modadd", "--method", "wd", "--method", "perpgrad",
               "--show-config", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--method given 2 times (wd, perpgrad)" in proc.stderr
    assert "--method a+b combines them into one run" in proc.stderr
    proc = cli("run", "--task", "modadd", "--task", "parity", "--show-config", check=False)
    assert proc.returncode == 2 and "--task given 2 times" in proc.stderr


def test_repeated_and_comma_separated_methods_are_one_list_in_leaderboard():
    def table(*methods):
        return cli("leaderboard", "--suite", "quick", "--from",
                   "leaderboards/quick.results.jsonl", "--task", "parity", *methods).stdout
    repeated = table("--method", "wd", "--method", "perpgrad")
    assert repeated == table("--method", "perpgrad, wd")
    assert "| wd " in repeated and "| perpgrad " in repeated and "| norm " not in repeated


def test_show_config_explain_names_each_layer():
    out = cli("run", "--task", "modadd", "--method", "grokfast+perpgrad", "--seed", "2",
              "--show-config", "--explain").stdout
    who = {}
    for line in out.splitlines()[2:]:  # columns: setting, value (JSON), set by
        key, value, layer = re.split(r"\s{2,}", line.strip())
        who[key] = (value, layer)
    assert who["weight_decay"] == ("0.005", "method grokfast's recipe for modadd")
    assert who["betas"] == ("[0.9, 0.999]", "method perpgrad")
    assert who["seed"] == ("2", "command line")
    assert who["wrappers"] == ('["grokfast", "perpgrad"]', "method grokfast+perpgrad")
    assert who["width"] == ("200", "task modadd's defaults")
    assert who["init_scale"] == ("1.0", "grokbench default")
    assert who["grokfast_alpha"] == ("0.98", "optimizer grokfast's option default")
    assert who["p"] == ("113", "task modadd's option default")
    norm = cli("run", "--task", "modadd", "--method", "norm", "--show-config", "--explain").stdout
    assert "method norm's recipe for modadd" in next(
        line for line in norm.splitlines() if line.startswith("init_scale"))
    bad = cli("run", "--task", "modadd", "--explain", check=False)
    assert bad.returncode == 2 and "--explain goes with --show-config" in bad.stderr


@pytest.mark.parametrize("method, fix", [("grokfast+wd", "--set weight_decay=VALUE"),
                                         ("perpgrad+stablemax", "--set eps=VALUE")])
def test_a_recipe_against_another_methods_setting_is_a_conflict_on_the_command_line(method, fix):
    proc = cli("run", "--task", "modadd", "--method", method, "--show-config", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "(its recipe for modadd)" in proc.stderr and fix in proc.stderr
