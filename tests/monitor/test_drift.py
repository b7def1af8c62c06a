"""Drift statistics equal scipy's on the same samples, corrections equal statsmodels', the
default rule picks the documented method, and a planted shift is found where it was planted."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]

from prodml.data.profile import profile_frame
from prodml.errors import ConfigError, DataError
from prodml.monitor.drift import (
    MIN_EFFECT,
    Correction,
    Threshold,
    default_method,
    distributions,
    drift_report,
    learned_thresholds,
)
from prodml.monitor.statistics import (
    EXACT_ROWS,
    METHODS,
    OTHER,
    Distribution,
    bins,
    chisquare,
    compare,
    hellinger,
    jensenshannon,
    ks,
    psi,
    score,
    wasserstein,
)


def samples(seed: int, n1: int, n2: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Two seeded samples: continuous, shifted a little; or integers, full of ties."""
    rng = np.random.default_rng(seed)
    if kind == "integers":
        return rng.integers(0, 12, n1).astype(float), rng.integers(1, 12, n2).astype(float)
    return rng.normal(0.0, 1.0, n1), rng.normal(0.1, 1.2, n2)


CASES = [
    (1, 7, 9, "normal"),
    (2, 300, 300, "normal"),
    (3, 400, 1500, "integers"),
    (4, 2000, 2000, "integers"),
    (5, 3000, 12_000, "normal"),  # beyond 10,000 rows a side: scipy's asymptotic p-value
    (6, 20_000, 20_000, "integers"),
    (7, 50_000, 20_001, "normal"),
]


@pytest.mark.parametrize(("seed", "n1", "n2", "kind"), CASES)
def test_ks_equals_scipy_ks_2samp(seed: int, n1: int, n2: int, kind: str) -> None:
    reference, current = samples(seed, n1, n2, kind)
    expected = stats.ks_2samp(reference, current)
    statistic, p_value = ks(reference, current)
    assert statistic == expected.statistic
    assert p_value == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("n1", [228, 1_000, EXACT_ROWS])
def test_ks_at_exact_rows_takes_scipys_statistic_and_asymptotic_p_value(n1: int) -> None:
    """At 10,000 rows scipy's default method is still the exact one: ks() gives its D but
    the asymptotic p-value, within the tolerance its docstring states (0.3%, 0.9%, 2.1%
    of the p-value against 228, 1,000 and 10,000 rows)."""
    rng = np.random.default_rng(n1)  # one population: p-values of 0.0001 and more
    reference, current = rng.normal(size=n1), rng.normal(size=EXACT_ROWS)
    statistic, p_value = ks(reference, current)
    auto = stats.ks_2samp(reference, current)
    asymptotic = stats.ks_2samp(reference, current, method="asymp")
    assert statistic == auto.statistic
    assert p_value == pytest.approx(asymptotic.pvalue, rel=1e-9)
    assert p_value == pytest.approx(auto.pvalue, rel={228: 3e-3, 1_000: 9e-3}.get(n1, 2.1e-2))


@pytest.mark.parametrize(("seed", "n1", "n2", "kind"), CASES)
def test_wasserstein_equals_scipy_over_the_reference_std(
    seed: int, n1: int, n2: int, kind: str
) -> None:
    reference, current = samples(seed, n1, n2, kind)
    expected = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert wasserstein(reference, current) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("seed", "n1", "n2", "kind"), CASES)
def test_chisquare_equals_scipys_two_sample_contingency_test(
    seed: int, n1: int, n2: int, kind: str
) -> None:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefg"))
    reference = Counter(letters[rng.integers(0, 6, n1)].tolist())  # no "g"
    current = Counter(letters[rng.integers(1, 7, n2)].tolist())  # no "a"
    keys = sorted(set(reference) | set(current))
    table = [[side.get(k, 0) for k in keys] for side in (reference, current)]
    expected = stats.chi2_contingency(table, correction=False)
    statistic, p_value = chisquare(reference, current)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(("seed", "n1", "n2", "kind"), CASES)
def test_chisquare_of_numbers_tests_their_shared_bins(
    seed: int, n1: int, n2: int, kind: str
) -> None:
    reference, current = samples(seed, n1, n2, kind)
    table = np.array(bins(reference, current))
    table = table[:, table.sum(axis=0) > 0]  # a bin neither side has is no column
    expected = stats.chi2_contingency(table, correction=False)
    assert chisquare(reference, current) == pytest.approx(
        (expected.statistic, expected.pvalue), rel=1e-12, abs=1e-300
    )


def test_a_category_only_one_side_has_is_a_column_and_other_takes_new_values() -> None:
    assert chisquare({"a": 10, "b": 10}, {"a": 5, "c": 1}) == pytest.approx(
        tuple(stats.chi2_contingency([[10, 10, 0], [5, 0, 1]], correction=False)[:2]), rel=1e-12
    )
    # a capped profile's "(other)" takes the new values: 5 and 1 against 10 and 10
    with_other = chisquare({"a": 10, OTHER: 10}, {"a": 5, "c": 1})
    assert with_other == pytest.approx(
        tuple(stats.chi2_contingency([[10, 10], [5, 1]], correction=False)[:2]), rel=1e-12
    )
    assert chisquare({"a": 4}, {"a": 9}) == (0.0, 1.0)
    assert chisquare({"a": 4}, {}) == (0.0, 1.0)


@pytest.mark.parametrize(("seed", "n1", "n2", "kind"), CASES)
def test_numeric_bins_are_numpys_sturges_histogram(seed: int, n1: int, n2: int, kind: str) -> None:
    reference, current = samples(seed, n1, n2, kind)
    counts = bins(reference, current)
    if np.union1d(reference, current).size <= 20:  # one bin per value
        values = np.union1d(reference, current)
        assert [c.tolist() for c in counts] == [
            [float(np.sum(side == v)) for v in values] for side in (reference, current)
        ]
    else:
        edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
        assert [c.tolist() for c in counts] == [
            np.histogram(side, edges)[0].tolist() for side in (reference, current)
        ]


@pytest.mark.parametrize(("seed", "n1", "n2", "kind"), CASES)
def test_jensenshannon_equals_scipys_in_base_2_on_the_binned_shares(
    seed: int, n1: int, n2: int, kind: str
) -> None:
    reference, current = samples(seed, n1, n2, kind)
    edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
    if np.union1d(reference, current).size <= 20:  # one bin per value
        edges = np.append(np.union1d(reference, current), np.inf)
    p, q = (np.histogram(side, edges)[0] / side.size for side in (reference, current))
    expected = distance.jensenshannon(p, q, base=2)
    assert jensenshannon(reference, current) == pytest.approx(expected, rel=1e-12)


def test_jensenshannon_of_categories_is_over_their_union() -> None:
    reference, current = {"a": 6, "b": 4}, {"b": 5, "c": 5}
    expected = distance.jensenshannon([0.6, 0.4, 0.0], [0.0, 0.5, 0.5], base=2)
    assert jensenshannon(reference, current) == pytest.approx(expected, rel=1e-12)


def test_psi_and_hellinger_equal_their_closed_forms() -> None:
    reference, current = {"a": 50, "b": 50}, {"a": 90, "b": 10}
    assert psi(reference, current) == pytest.approx(
        (0.5 - 0.9) * math.log(0.5 / 0.9) + (0.5 - 0.1) * math.log(0.5 / 0.1), rel=1e-12
    )
    assert hellinger(reference, current) == pytest.approx(
        math.sqrt(1 - (math.sqrt(0.5 * 0.9) + math.sqrt(0.5 * 0.1))), rel=1e-12
    )
    # an empty bin's share becomes 0.0001 (the side's smallest share, 1.0, is above that)
    assert psi({"a": 1, "b": 1}, {"a": 3}) == pytest.approx(
        (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4), rel=1e-12
    )
    # ... or a millionth of the smallest share when that is at most 0.0001
    small = {"a": 1, "b": 19_999}
    q = np.array([1 / 20_000, 19_999 / 20_000, 1 / 20_000 / 1e6])
    p = np.array([1 / 3, 1 / 3, 1 / 3])
    assert psi({"a": 1, "b": 1, "c": 1}, small) == pytest.approx(
        float(np.sum((p - q) * np.log(p / q))), rel=1e-12
    )
    assert hellinger({"a": 1}, {"b": 2}) == 1.0
    assert psi(reference, reference) == hellinger(reference, reference) == 0.0


def ks_columns(shifts: list[float], rows: int = 400) -> dict[str, tuple[Distribution, ...]]:
    """One column per shift, each a KS test at ``rows`` rows: p-values from tiny to large."""
    rng = np.random.default_rng(11)
    return {
        f"x{i}": (
            Distribution.numeric(rng.normal(0, 1, 2000)),
            Distribution.numeric(rng.normal(shift, 1, rows)),
        )
        for i, shift in enumerate(shifts)
    }


@pytest.mark.parametrize("correction", ["holm", "bonferroni", "none"])
def test_corrections_equal_statsmodels_multipletests(correction: Correction) -> None:
    columns = ks_columns([0.0, 0.08, 0.12, 0.15, 0.2, 0.3, 0.05, 0.0])
    report = drift_report(
        {n: ref for n, (ref, _) in columns.items()},
        {n: cur for n, (_, cur) in columns.items()},
        correction=correction,
    )
    p_values = [s.p_value for s in report.scores.values()]
    assert all(s.method == "ks" for s in report.scores.values())
    if correction == "none":
        assert [s.p_adjusted for s in report.scores.values()] == p_values
        assert [s.drifted for s in report.scores.values()] == [p < 0.05 for p in p_values]  # type: ignore[operator]
        return
    reject, corrected, _, _ = multipletests(p_values, alpha=0.05, method=correction)
    assert [s.p_adjusted for s in report.scores.values()] == pytest.approx(corrected, rel=1e-12)
    assert [s.drifted for s in report.scores.values()] == reject.tolist()
    assert 0 < sum(reject) < len(reject)  # the case is not trivial


def test_default_rule_picks_the_documented_method_at_every_size() -> None:
    rng = np.random.default_rng(3)
    numbers = Distribution.numeric(rng.normal(0, 1, 5000))
    few = Distribution.numeric(rng.integers(0, 5, 5000))  # 5 values
    six = Distribution.numeric(rng.integers(0, 6, 5000))  # 6 values
    letters = Distribution.categorical({"a": 3000, "b": 2000})
    for rows in (10, 1000, 1001, 50_000):
        assert default_method(numbers, Distribution.numeric(rng.normal(0, 1, rows))) == "ks"
        assert default_method(few, Distribution.numeric(rng.integers(0, 5, rows))) == "chisquare"
        assert default_method(letters, Distribution.categorical({"a": rows})) == "chisquare"
        assert default_method(six, Distribution.numeric(rng.integers(0, 6, rows))) == "ks"
    # 4 values on each side, 6 together: numbers
    assert default_method(few, Distribution.numeric(rng.integers(2, 6, 50) + 0.5)) == "ks"


def test_a_test_needs_an_effect_of_min_effect_too() -> None:
    # 100,000 rows a side: a difference of 0.03 in a share is significant, but small
    reference = {"member": Distribution.categorical({"yes": 30_000, "no": 70_000})}
    small = {"member": Distribution.categorical({"yes": 33_000, "no": 67_000})}
    large = {"member": Distribution.categorical({"yes": 35_000, "no": 65_000})}

    kept, flagged = (drift_report(reference, side).scores["member"] for side in (small, large))

    assert kept.p_value is not None and kept.p_value < 1e-40
    assert kept.effect == pytest.approx(0.03) and not kept.drifted
    assert flagged.effect == pytest.approx(0.05) and flagged.drifted
    assert MIN_EFFECT == 0.04


def planted(rows: int, seed: int) -> pd.DataFrame:
    """Five columns; with ``seed`` odd, 'income' and 'region' are shifted."""
    rng = np.random.default_rng(seed)
    shifted = seed % 2 == 1
    return pd.DataFrame(
        {
            "income": rng.lognormal(10.0 + (0.3 if shifted else 0.0), 0.5, rows),
            "age": rng.integers(18, 90, rows),
            "score": rng.normal(600, 50, rows),
            "region": rng.choice(["n", "s", "e", "w"], rows, p=[0.55, 0.15, 0.15, 0.15])
            if shifted
            else rng.choice(["n", "s", "e", "w"], rows),
            "member": rng.random(rows) < 0.3,
        }
    )


@pytest.mark.parametrize(
    ("rows", "methods"),
    [
        (500, {"income": "ks", "age": "ks", "score": "ks", "region": "chisquare"}),
        (20_000, {"income": "ks", "age": "ks", "score": "ks", "region": "chisquare"}),
    ],
)
def test_a_shift_planted_in_two_of_five_columns_flags_those_two(
    rows: int, methods: dict[str, str]
) -> None:
    reference = distributions(planted(20_000, seed=2))
    current = distributions(planted(rows, seed=5))
    report = drift_report(reference, current)
    assert report.drifted_columns == ["income", "region"]
    assert report.share == 0.4 and not report.drifted
    assert {n: s.method for n, s in report.scores.items() if n in methods} == methods
    same = drift_report(reference, distributions(planted(rows, seed=4)))
    assert same.drifted_columns == []
    assert json.loads(json.dumps(report.to_dict()))["scores"]["income"]["drifted"] is True


def test_distribution_from_a_real_profile_column() -> None:
    frame = planted(3000, seed=2)
    frame.loc[::10, "score"] = np.nan
    profile = profile_frame(frame, sample_size=1000, max_categories=2)
    score = Distribution.from_profile(profile.columns["score"])
    sample = profile.columns["score"].sample  # type: ignore[union-attr]
    assert score.values is not None and score.values.tolist() == sorted(sample[~np.isnan(sample)])
    assert 800 < score.rows < 1000
    region = Distribution.from_profile(profile.columns["region"])
    counted = frame["region"].value_counts()
    assert region.counts is not None and region.rows == 3000 and OTHER in region.counts
    assert all(region.counts[k] == counted[k] for k in region.counts if k != OTHER)
    # the current data's values beyond the profile's two categories land in "(other)"
    assert chisquare(region, Distribution.from_series(frame["region"])) == (0.0, 1.0)
    assert Distribution.from_profile(profile.columns["member"]).counts == {
        str(k): v for k, v in frame["member"].value_counts().items()
    }
    report = drift_report(
        {n: Distribution.from_profile(c) for n, c in profile.columns.items()},
        distributions(planted(3000, seed=5)),
    )
    assert report.drifted_columns == ["income", "region"]


def test_distribution_from_series_of_each_type() -> None:
    times = pd.to_datetime(pd.Series(["2024-01-01T00:00:10Z", None, "1970-01-01T00:00:00Z"]))
    assert Distribution.from_series(times).values.tolist() == [0.0, 1704067210.0]  # type: ignore[union-attr]
    assert Distribution.from_series(pd.Series([True, False, True])).counts == {
        "True": 2,
        "False": 1,
    }
    category = pd.Series(["a", "b"], dtype=pd.CategoricalDtype(["a", "b", "c"]))
    assert Distribution.from_series(category).counts == {"a": 1, "b": 1}
    mixed = pd.Series([1, "1", "x"], dtype=object)
    assert Distribution.from_series(mixed).counts == {"1": 2, "x": 1}
    numbers = np.array([2.0, np.inf, 1.0, np.nan])
    built = Distribution.from_series(pd.Series(numbers))
    assert built.values is not None and built.values.tolist() == [1.0, 2.0]
    already = np.array([1.0, 2.0, 3.0])
    assert Distribution.numeric(already).values is not None and already.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        built.values[0] = 5.0


def test_learned_thresholds_take_the_rule_s_method_and_judge_the_score() -> None:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"x": rng.normal(size=600), "c": rng.choice(list("ab"), 600)})
    given = learned_thresholds(frame, 100, method="wasserstein", columns=["x"])
    assert list(given) == ["x"] and given["x"].method == "wasserstein"
    default = learned_thresholds(frame, 100)
    assert {name: t.method for name, t in default.items()} == {"x": "ks", "c": "chisquare"}
    # given as thresholds, they judge the score
    current = {
        "x": Distribution.numeric(rng.normal(0.5, 1, 100)),
        "c": Distribution.categorical({"a": 50, "b": 50}),
    }
    report = drift_report(distributions(frame), current, thresholds=default)
    x_score = report.scores["x"]
    assert (x_score.method, x_score.threshold_on, x_score.p_adjusted) == ("ks", "score", None)
    assert x_score.drifted == (x_score.score >= default["x"].value)


def test_learning_from_fewer_than_two_windows_of_rows_says_how_many_it_needs() -> None:
    frame = pd.DataFrame({"x": np.arange(150.0)})
    with pytest.raises(
        DataError,
        match=r"learning thresholds for windows of 100 rows takes at least 200 reference rows "
        r"\(a window, and rows to compare it with\); the reference has 150: give more rows "
        "or a smaller window",
    ):
        learned_thresholds(frame, 100)


def test_constant_thresholds_apply_to_the_score() -> None:
    reference = {"x": Distribution.numeric(np.arange(5000.0))}
    current = {"x": Distribution.numeric(np.arange(5000.0) + 300)}
    score = drift_report(reference, current, method="wasserstein").scores["x"]
    assert score.score == pytest.approx(300 / np.std(np.arange(5000.0)), rel=1e-12)
    assert (score.threshold, score.threshold_on, score.drifted) == (0.1, "score", True)
    loose = drift_report(reference, current, method="wasserstein", thresholds={"x": 0.25}).scores[
        "x"
    ]
    assert (loose.threshold, loose.drifted) == (0.25, False)
    tested = drift_report(reference, current, method="ks", thresholds={"x": 0.05}).scores["x"]
    assert (tested.method, tested.threshold_on, tested.drifted) == ("ks", "score", True)


def test_errors_name_the_bad_value_and_what_is_allowed() -> None:
    numbers = {"income": Distribution.numeric([1.0, 2.0])}
    with pytest.raises(
        ConfigError,
        match=r"method 'kss' is not one of: ks, chisquare, wasserstein, jensenshannon, psi, hellinger; did you mean 'ks'\?",
    ):
        drift_report(numbers, numbers, method="kss")  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError,
        match=r"correction 'holms' is not one of: holm, bonferroni, none; did you mean 'holm'\?",
    ):
        drift_report(numbers, numbers, correction="holms")  # type: ignore[arg-type]
    with pytest.raises(
        DataError,
        match=r"column 'incme' is not in both the reference and the current data; its columns are: income; did you mean 'income'\?",
    ):
        drift_report(numbers, numbers, thresholds={"incme": 0.2})
    with pytest.raises(
        DataError,
        match=r"no column of the reference; the reference has: income; the current data: age",
    ):
        drift_report(numbers, {"age": Distribution.numeric([1.0])})
    letters = {"income": Distribution.categorical({"a": 1})}
    with pytest.raises(
        ConfigError,
        match=r"method 'wasserstein' takes numbers, but column 'income' holds categories; for categories use: chisquare, jensenshannon, psi, hellinger",
    ):
        drift_report(letters, letters, method="wasserstein")
    with pytest.raises(
        DataError,
        match=r"column 'income' holds numeric values in the reference but categorical values in the current data",
    ):
        drift_report(numbers, letters)
    with pytest.raises(DataError, match=r"column 'income' has no values in the current data"):
        drift_report(numbers, {"income": Distribution.numeric([np.nan])})
    with pytest.raises(
        ConfigError, match=r"the threshold of column 'income' is for method 'ks', not 'psi'"
    ):
        drift_report(numbers, numbers, method="psi", thresholds={"income": Threshold("ks", 0.2)})
    with pytest.raises(
        DataError,
        match=r"column 'agee' is not in the frame; its columns are: age; did you mean 'age'\?",
    ):
        distributions(pd.DataFrame({"age": [1]}), ["agee"])


@pytest.mark.parametrize(("seed", "n1", "n2", "kind"), CASES)
def test_score_is_compare_s_score_for_every_method(seed: int, n1: int, n2: int, kind: str) -> None:
    reference, current = samples(seed, n1, n2, kind)
    for method in METHODS:
        expected = compare(method, reference, current)[0]
        assert score(method, reference, current) == pytest.approx(expected, rel=1e-12)


def test_compare_runs_a_statistic_by_name_and_names_an_unknown_one() -> None:
    reference, current = {"a": 50, "b": 50}, {"a": 90, "b": 10}
    assert compare("psi", reference, current) == (psi(reference, current), None)
    assert compare("chisquare", reference, current) == chisquare(reference, current)
    with pytest.raises(
        ConfigError,
        match=r"method 'hellinge' is not one of: ks, chisquare, wasserstein, jensenshannon, psi, hellinger; did you mean 'hellinger'\?",
    ):
        compare("hellinge", reference, current)  # type: ignore[arg-type]
