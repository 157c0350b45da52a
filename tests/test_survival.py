"""Survival statistics (grokbench.survival): Kaplan–Meier with its band, RMST, the log-rank test
and its exact permutation p, Holm and the letter groups, against hand computations and, where
it is installed (the test-only extra ``survival-check``), against lifelines."""
import math

import pytest

from grokbench import survival as sv

# The hand example: 5 runs with a budget of 500 steps.
TIMES = [100, 200, 300, 300, 500]
EVENTS = [True, False, True, True, False]  # 200: a NaN stop (censored); 500: the budget


def test_kaplan_meier_and_rmst_hand_computed():
    """Runs: generalized at 100; stopped on NaN at 200 (censored); generalized at 300 and 300;
    not generalized by the budget 500 (censored).

    t = 100: 5 at risk, 1 event:  Ŝ = 4/5 = 0.8;          Greenwood Σ = 1/(5·4) = 0.05
    t = 200: the NaN stop leaves the risk set (4 → 3), Ŝ unchanged
    t = 300: 3 at risk, 2 events: Ŝ = 0.8 · 1/3 = 0.2667;  Σ = 0.05 + 2/(3·1) = 0.71667
    So P(generalized by t) = 0.2 from step 100 and 0.7333 from step 300.

    Band at 100: se = √0.05 / |ln 0.8| = 0.22361 / 0.22314 = 1.00208;
      low = 0.8^exp(1.95996·1.00208) = 0.8^7.1285 = 0.20381,
      high = 0.8^exp(−1.95996·1.00208) = 0.8^0.14028 = 0.96918.

    RMST to τ = 500: 1·100 + 0.8·200 + 0.2667·200 = 313.33 steps.
    Its variance: A(100) = ∫₁₀₀⁵⁰⁰ Ŝ = 160 + 53.33 = 213.33, term 213.33²·1/(5·4) = 2275.56;
      A(300) = 53.33, term 53.33²·2/(3·1) = 1896.30; Var = 4171.85, se = 64.59;
      interval 313.33 ± 1.95996·64.59 = 186.74–439.93."""
    km = sv.kaplan_meier(TIMES, EVENTS)
    assert [(t, n, d) for t, _s, _lo, _hi, n, d in km] == [(100, 5, 1), (300, 3, 2)]
    assert km[0][1] == pytest.approx(0.8) and km[1][1] == pytest.approx(0.8 / 3)
    assert km[0][2] == pytest.approx(0.20381, abs=1e-5) and km[0][3] == pytest.approx(0.96918, abs=1e-5)
    mean, var, low, high = sv.rmst(TIMES, EVENTS, 500)
    assert mean == pytest.approx(313.3333, abs=1e-4)
    assert var == pytest.approx(2275.556 + 1896.296, abs=1e-2)
    assert (low, high) == (pytest.approx(186.74, abs=0.01), pytest.approx(439.93, abs=0.01))
    # every run generalized: Ŝ reaches 0 and the band there is [0, 0]; RMST is the plain mean
    km = sv.kaplan_meier([100, 200, 300], [True] * 3)
    assert km[-1][1:4] == (0.0, 0.0, 0.0)
    assert sv.rmst([100, 200, 300], [True] * 3, 500)[0] == pytest.approx(200)
    # nobody generalized: RMST is the budget, with no spread to estimate
    assert sv.rmst([500] * 3, [False] * 3, 500) == (500, 0.0, 500, 500)
    # an event after τ does not count: RMST to 250 of the hand example
    assert sv.rmst(TIMES, EVENTS, 250)[0] == pytest.approx(100 + 0.8 * 150)


def test_logrank_exact_p_holm_and_letters_hand_computed():
    """a: 100 (event), 300 (event); b: 200 (event), 400 (censored).
    t = 100: n = 4, n_a = 2, d = 1 (a): U += 1 − 2/4 = 0.5;   V += 2·2·1·3/(16·3) = 0.25
    t = 200: n = 3, n_a = 1, d = 1 (b): U += 0 − 1/3;          V += 1·2·1·2/(9·2) = 0.2222
    t = 300: n = 2, n_a = 1, d = 1 (a): U += 1 − 1/2 = 0.5;    V += 1·1·1·1/(4·1) = 0.25
    U = 0.6667, V = 0.7222, χ² = 0.6154. Of the C(4, 2) = 6 relabellings, 4 reach χ² ≥ 0.6154
    (the observed one, its mirror, and a={100,200} / a={300,400}: χ² = 2.4194 each), p = 4/6."""
    u, v = sv.logrank([100, 300], [True, True], [200, 400], [True, False])
    assert (u, v) == (pytest.approx(2 / 3), pytest.approx(0.25 + 2 / 9 + 0.25))
    assert sv.chi2(u, v) == pytest.approx(0.615385, abs=1e-6)
    assert sv.exact_logrank_p([100, 300], [True, True], [200, 400], [True, False]) == pytest.approx(4 / 6)
    # what n seeds can show at best: complete separation of 3 vs 3 and 5 vs 5
    assert sv.exact_logrank_p([150] * 3, [True] * 3, [5000] * 3, [False] * 3) == pytest.approx(2 / 20)
    assert sv.exact_logrank_p([150] * 5, [True] * 5, [5000] * 5, [False] * 5) == pytest.approx(2 / 252)
    assert sv.asymptotic_p(*sv.logrank([150] * 3, [True] * 3, [5000] * 3, [False] * 3)) == \
        pytest.approx(0.02535, abs=1e-5)  # χ² = 1.5² / 0.45 = 5
    # nothing generalized on either side: nothing to test
    assert sv.exact_logrank_p([500] * 3, [False] * 3, [500] * 3, [False] * 3) == 1.0
    # Monte Carlo past max_exact: seeded, so the same p every time, near the exact 2/252
    mc = sv.exact_logrank_p([150] * 5, [True] * 5, [5000] * 5, [False] * 5, max_exact=100)
    assert mc == sv.exact_logrank_p([150] * 5, [True] * 5, [5000] * 5, [False] * 5, max_exact=100)
    assert mc < 0.1
    # Holm: 0.01·4 = 0.04; 0.03·3 = 0.09; 0.04·2 = 0.08 → 0.09 (monotone); 0.2·1
    assert sv.holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert sv.holm([]) == []
    # letters: a≠c, a≠d, b≠d significant; every other pair shares a letter
    assert sv.letter_groups(list("abcd"), [("a", "c"), ("a", "d"), ("b", "d")]) == \
        {"a": "a", "b": "ab", "c": "bc", "d": "c"}
    assert sv.letter_groups(list("xyz"), []) == {"x": "a", "y": "a", "z": "a"}


def test_against_lifelines():
    """The same numbers from lifelines (``pip install -e '.[survival-check]'``): the KM curve
    and its log(−log) band, RMST, and the log-rank χ² and asymptotic p, on the hand example and
    on data with ties, censoring between events and a censoring tied with an event."""
    ll = pytest.importorskip("lifelines")
    from lifelines.statistics import logrank_test
    from lifelines.utils import restricted_mean_survival_time
    samples = [
        (TIMES, EVENTS),
        ([50, 50, 80, 120, 120, 120, 300, 300, 400, 400],
         [True, False, True, True, True, False, True, False, False, True]),
        ([700, 650, 550, 5000, 5000], [True, True, True, False, False]),
    ]
    for times, events in samples:
        fit = ll.KaplanMeierFitter().fit(times, events)
        curve = fit.survival_function_["KM_estimate"]
        band = fit.confidence_interval_
        for t, s, low, high, _n, _d in sv.kaplan_meier(times, events):
            assert s == pytest.approx(curve.loc[t], abs=1e-12)
            if s > 0:
                assert low == pytest.approx(band.iloc[:, 0].loc[t], abs=1e-9)
                assert high == pytest.approx(band.iloc[:, 1].loc[t], abs=1e-9)
        tau = max(times)
        assert sv.rmst(times, events, tau)[0] == pytest.approx(
            float(restricted_mean_survival_time(fit, tau)), abs=1e-9)
    # lifelines' RMST variance is that of min(T, τ) itself; without censoring before τ the
    # estimator's Greenwood variance is that divided by n
    times, events = [100, 200, 200, 450, 500], [True, True, True, True, False]
    fit = ll.KaplanMeierFitter().fit(times, events)
    _mean, spread = restricted_mean_survival_time(fit, 500, return_variance=True)
    assert sv.rmst(times, events, 500)[1] == pytest.approx(float(spread) / 5, rel=1e-9)
    for (ta, ea), (tb, eb) in [(samples[0], samples[2]), (samples[1], samples[0]),
                               (([150] * 3, [True] * 3), ([5000] * 3, [False] * 3))]:
        result = logrank_test(ta, tb, ea, eb)
        u, v = sv.logrank(ta, ea, tb, eb)
        assert sv.chi2(u, v) == pytest.approx(result.test_statistic, rel=1e-9)
        assert sv.asymptotic_p(u, v) == pytest.approx(result.p_value, rel=1e-9)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_smallest_exact_p_is_two_over_the_relabellings(n):
    """With n runs a side, complete separation gives the smallest p: 2 / C(2n, n)."""
    p = sv.exact_logrank_p([10] * n, [True] * n, [99] * n, [False] * n)
    assert p == pytest.approx(min(1.0, 2 / math.comb(2 * n, n)))


def test_stratified_logrank_hand_computed():
    """The across-task test (survival.stratified_logrank_p) on hand counts."""
    # One task, A = {10, 30} (events), B = {20 (event), 40 (censored)}. U = Σ (d_a − n_a·d/n)
    # over the event times 10, 20, 30: (1 − 2/4) + (0 − 1/3) + (1 − 1/2) = 2/3. The 6
    # relabellings give U = 7/6, 2/3, −1/3, 1/3, −2/3, −7/6 (A = {10,20}, {10,30}, {10,40},
    # {20,30}, {20,40}, {30,40}): 4 of 6 have |U| ≥ 2/3.
    task = ([10, 30], [True, True], [20, 40], [True, False])
    u, p = sv.stratified_logrank_p([task])
    assert u == pytest.approx(2 / 3) and p == pytest.approx(4 / 6)
    # Complete separation on each of two tasks (A: 3 runs at 100, 200, 300; B: 3 misses): U_k =
    # 1/2 + 3/5 + 3/4 = 1.85 per task, the most of its 20 relabellings, so only both tasks at
    # +1.85 or both at −1.85 reach |U| = 3.7: p = 2/400, where each task alone gives 0.1.
    sep = ([100, 200, 300], [True] * 3, [1000] * 3, [False] * 3)
    u, p = sv.stratified_logrank_p([sep, sep])
    assert u == pytest.approx(3.7) and p == pytest.approx(2 / 400)
    assert sv.exact_logrank_p(*sep) == pytest.approx(0.1)
    # Sooner on one task, later on the other: U = 0, nothing to reject
    flipped = (sep[2], sep[3], sep[0], sep[1])
    assert sv.stratified_logrank_p([sep, flipped]) == (pytest.approx(0.0), 1.0)
    # A task where neither generalized adds nothing
    none = ([1000] * 3, [False] * 3, [1000] * 3, [False] * 3)
    assert sv.stratified_logrank_p([sep, sep, none])[1] == pytest.approx(2 / 400)
    # Four tasks: 20⁴ relabellings, past MAX_EXACT: seeded Monte Carlo, exact p 2/160 000, so
    # (1 + hits) / (1 + 20 000) with hits 0 or 1; the same on every call.
    u, p = sv.stratified_logrank_p([sep] * 4)
    assert u == pytest.approx(7.4) and p in (1 / 20001, 2 / 20001)
    assert sv.stratified_logrank_p([sep] * 4) == (u, p)


def test_the_across_task_table_tests_each_pair_over_the_tasks():
    """leaderboard.across_task_pairs: A generalizes before B on each of 3 tasks (3 + 3 runs), so
    each task alone gives p = 0.1 but the tasks together 2/20³ = 0.00025; C never generalizes
    anywhere and B never does either, so B–C is not tested. Holm over the 2 pairs tested."""
    from grokbench.leaderboard import across_task_pairs
    sooner = [(100.0, True, None), (200.0, True, None), (300.0, True, None)]
    missed = [(1000.0, False, "budget")] * 3
    observed = {task: {"A": sooner, "B": missed, "C": missed} for task in ("t1", "t2", "t3")}
    overall = {"rows": [{"method": m} for m in ("A", "B", "C")]}
    pairs = {(p["a"], p["b"]): p for p in across_task_pairs(overall, observed)}
    assert set(pairs) == {("A", "B"), ("A", "C")}
    ab = pairs[("A", "B")]
    assert ab["tasks"] == 3 and ab["sooner"] == "A" and ab["p"] == pytest.approx(2 / 8000)
    assert ab["p_holm"] == pytest.approx(2 * 2 / 8000) and ab["significant"]
