#!/usr/bin/env bash
# Rank a method plugin against a grokbench suite's committed leaderboard: run the method's runs at
# the suite's settings, rank them beside the committed raw results (`leaderboard --add-method`),
# and publish the board. .github/workflows/grokbench.yml runs exactly this; so can you, locally.
#
#   ci/rank.sh [METHOD] [SUITE]                      (defaults: lion, quick)
#
# Environment:
#   OUT_DIR       where the board goes (default: grokbench-rank): SUITE+METHOD.md/.json/.csv/
#                 .overall.csv/.profile.png, SUITE+METHOD.results.jsonl (the raw results a pull
#                 request to grokbench adds), summary.md and the commands' output (log.txt)
#   STORE         the SQLite results file of the runs (default: grokbench-runs.db); runs already
#                 in it are not trained again
#   WORKERS       parallel runs (default: one per core)
#   RERUN_REFERENCE  a method of the suite, e.g. wd (quick's reference): run its runs here too
#                 and show them as a 'wd (this machine)' row beside the committed one, and rank
#                 against it. The committed runs ran on another CPU; beside this machine's own
#                 reference runs, METHOD is compared like with like.
#   BUDGET_STEPS  a smoke test of this script, not a result: every run of the suite stops at
#                 this many steps. The committed board's runs had the suite's own budgets, so
#                 they are not comparable; the script first builds the suite's whole board at
#                 this budget (every one of its methods) and ranks METHOD against that.
#   GITHUB_STEP_SUMMARY  set by GitHub Actions: summary.md is appended to it (the job summary)
set -euo pipefail

method="${1:-lion}"
suite="${2:-quick}"
out="${OUT_DIR:-grokbench-rank}"
store="${STORE:-grokbench-runs.db}"
# Arrays expanded as ${a[@]+"${a[@]}"}: an empty "${a[@]}" is an error under set -u in the bash
# of macOS (3.2).
workers=()
if [ -n "${WORKERS:-}" ]; then workers=(--workers "$WORKERS"); fi
mkdir -p "$out"
log="$out/log.txt"
: > "$log"

# Each command is echoed and its output kept in the log (the artifact), and still shown live.
step() {
  echo "+ $*" | tee -a "$log"
  "$@" 2>&1 | tee -a "$log"
}
# The same, with the output in the log only (shown if the command fails).
quiet_step() {
  echo "+ $*" | tee -a "$log"
  local from; from=$(wc -l < "$log")
  "$@" >> "$log" 2>&1 || { tail -n +"$((from + 1))" "$log" >&2; return 1; }
}

if [ -n "${BUDGET_STEPS:-}" ]; then
  # The suite's file with every budget replaced, in a folder of its own that --suite reads
  # (GROKBENCH_SUITES_DIR): task_settings would override a budget set only in [settings].
  suites="$(mktemp -d)"
  trap 'rm -rf "$suites"' EXIT
  python3 - "$suite" "$BUDGET_STEPS" "$suites" <<'PY'
import json
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: grokbench depends on tomli there
    import tomli as tomllib

from grokbench.grid import suites_dir  # where `--suite NAME` reads NAME.toml

name, steps, target = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
spec = tomllib.loads((suites_dir() / f"{name}.toml").read_text(encoding="utf-8"))
spec.setdefault("settings", {})["steps"] = steps
for settings in spec.get("task_settings", {}).values():
    settings["steps"] = steps
spec["budget_note"] = f"Smoke test of ci/rank.sh: every run stops at {steps} steps."


def toml(table, prefix=""):
    """A suite's TOML: scalars and lists of them at each level (JSON spells those as TOML
    does), then the tables."""
    lines = [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in table.items()
             if not isinstance(v, dict)]
    for k, v in table.items():
        if isinstance(v, dict):
            lines += ["", f"[{prefix}{k}]", *toml(v, f"{prefix}{k}.")]
    return lines


(target / f"{name}.toml").write_text("\n".join(toml(spec)) + "\n", encoding="utf-8")
PY
  export GROKBENCH_SUITES_DIR="$suites"
  step grokbench sweep --suite "$suite" --store "$store" -q ${workers[@]+"${workers[@]}"}
  quiet_step grokbench leaderboard --suite "$suite" --store "$store" --write
fi

# What the method's runs will cost here, then the runs (those already stored are skipped).
step grokbench sweep --suite "$suite" --method "$method" --store "$store" --dry-run
step grokbench sweep --suite "$suite" --method "$method" --store "$store" -q \
  ${workers[@]+"${workers[@]}"}

reference=()
if [ -n "${RERUN_REFERENCE:-}" ]; then
  step grokbench sweep --suite "$suite" --method "$RERUN_REFERENCE" --store "$store" -q \
    ${workers[@]+"${workers[@]}"}
  reference=(--reference "$RERUN_REFERENCE" --rerun-reference)
fi

# The board: the committed raw results of the suite's methods beside the store's runs of this one.
# Its warnings (where the two sides ran differently in a way that can move results) go to stderr.
warnings="$out/leaderboard.stderr"
board=(grokbench leaderboard --suite "$suite" --add-method "$method" --store "$store"
       ${reference[@]+"${reference[@]}"} --write --out-dir "$out")
echo "+ ${board[*]}" | tee -a "$log"
if ! "${board[@]}" 2> "$warnings"; then
  tee -a "$log" < "$warnings" >&2
  exit 1
fi
tee -a "$log" < "$warnings" >&2

table="$out/$suite+$method.md"
{
  echo "# grokbench: $method on the $suite board"
  echo
  if [ -n "${BUDGET_STEPS:-}" ]; then
    echo "> **Smoke test, not a result:** every run stopped at $BUDGET_STEPS steps (BUDGET_STEPS)."
    echo
  fi
  grep '^warning: ' "$warnings" | sed 's/^warning: /- **warning:** /' || true
  echo
  # A job summary shows no relative images: the figures are in the artifact.
  grep -v '^!\[' "$table"
} > "$out/summary.md"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$out/summary.md" >> "$GITHUB_STEP_SUMMARY"
fi
echo "board: $table; summary: $out/summary.md"
