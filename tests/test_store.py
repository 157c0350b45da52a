"""The results store on real files: strict JSON that other tools can read back."""
import math
import sqlite3

from grokbench.config import resolve
from grokbench.engine import run
from grokbench.scoring import from_jsonable, to_jsonable
from grokbench.store import Store

JSON_COLUMNS = ("config", "scores", "curve", "versions")


def test_store_writes_strict_json_and_reads_the_same_scores(registry, tmp_path):
    path = tmp_path / "runs.db"
    # Never generalizes in 20 steps (scores hold ∞) / diverges at once (NaN in its curve).
    plain = run(resolve(registry, "modadd", "baseline", {"p": 23, "steps": 20}), progress=False)
    nan = run(resolve(registry, "modadd", "baseline",
                      {"p": 23, "steps": 20, "optimizer": "sgd", "lr": 1e30}), progress=False)
    assert math.isinf(plain["scores"]["steps_to_generalize"]) and nan["status"] == "nonfinite"
    assert any(isinstance(v, float) and math.isnan(v) for r in nan["curve"] for v in r.values())
    store = Store(path)
    store.save(plain)
    store.save(nan)
    store.close()
    with sqlite3.connect(path) as db:  # another tool reading the file
        checks = " AND ".join(f"json_valid({c})" for c in JSON_COLUMNS)
        assert db.execute(f"SELECT count(*) FROM runs WHERE {checks}").fetchone() == (2,)
        assert db.execute("SELECT json_extract(scores, '$.steps_to_generalize') FROM runs "
                          "WHERE run_id = ?", (plain["run_id"],)).fetchone() == ("inf",)
    store = Store(path)
    for result in (plain, nan):
        back = store.get(result["run_id"])
        # exactly what --json says: ∞ stays ∞, NaN reads back as None (scored as NaN)
        for key in JSON_COLUMNS:
            assert back[key] == from_jsonable(to_jsonable(result[key])), key
        assert store.summaries([result["run_id"]])[0]["scores"] == back["scores"]
    assert math.isinf(store.get(plain["run_id"])["scores"]["steps_to_generalize"])


def test_a_store_written_before_still_reads(tmp_path):
    path = tmp_path / "old.db"
    Store(path).close()
    with sqlite3.connect(path) as db:  # bare Infinity/NaN, as older versions wrote
        db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   ("abc", "modadd", "baseline", 0, "finished", '{"task": "modadd"}',
                    '{"steps_to_generalize": Infinity, "nlm_cosine": NaN}', "[]", "{}", 1.0, 0.0))
    scores = Store(path).get("abc")["scores"]
    assert math.isinf(scores["steps_to_generalize"]) and math.isnan(scores["nlm_cosine"])

