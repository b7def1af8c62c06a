"""Agreement coefficients: equal to scikit-learn's and statsmodels', and to the published alpha."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import (  # type: ignore[import-untyped]
    fleiss_kappa as statsmodels_fleiss_kappa,
)

from prodml.data.agreement import (
    Level,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    raw_agreement,
    value_counts,
)
from prodml.errors import ConfigError, DataError

nan = np.nan
#: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 coders x 12 units
PUBLISHED = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
).T

#: Fleiss' kappa's example on Wikipedia: 10 subjects, 14 raters each, 5 categories
FLEISS_EXAMPLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


@pytest.mark.parametrize(
    ("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_krippendorff_alpha_reproduces_the_published_example(
    level: Level, published: float
) -> None:
    assert round(krippendorff_alpha(PUBLISHED, level), 3) == published


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_perfect_agreement_gives_alpha_one(level: Level) -> None:
    units = np.array([[1, 1, nan], [2, 2, 2], [3, nan, 3], [1, 1, 1]])
    assert krippendorff_alpha(units, level) == 1.0


def test_alpha_of_two_coders_differs_from_scotts_pi_by_the_small_sample_factor() -> None:
    rng = np.random.default_rng(3)
    units = rng.integers(0, 3, size=(40, 2)).astype(float)
    units[:30, 1] = units[:30, 0]
    shares = np.bincount(units.astype(int).ravel()) / units.size
    observed = (units[:, 0] == units[:, 1]).mean()
    scotts_pi = (observed - (shares**2).sum()) / (1 - (shares**2).sum())
    n = units.size  # 1 - alpha = (1 - pi) (n - 1) / n
    alpha = krippendorff_alpha(units)
    assert alpha != pytest.approx(scotts_pi, abs=1e-6)
    assert 1 - alpha == pytest.approx((1 - scotts_pi) * (n - 1) / n, rel=1e-12)


def test_alpha_ignores_the_order_of_units_and_coders() -> None:
    shuffled = PUBLISHED[np.random.default_rng(0).permutation(12)][:, [2, 0, 3, 1]]
    assert krippendorff_alpha(shuffled, "ordinal") == pytest.approx(
        krippendorff_alpha(PUBLISHED, "ordinal"), rel=1e-12
    )


def test_raw_agreement_pools_the_pairs_of_every_pairable_unit() -> None:
    # unit 1: 3 pairs, 1 agreeing; unit 2: 1 pair, agreeing; unit 3: one value, no pair
    units = np.array([[1, 1, 2], [3, 3, nan], [2, nan, nan]])
    assert raw_agreement(units) == 2 / 4


def test_value_counts_counts_each_units_values_by_sorted_category() -> None:
    counts, values = value_counts(PUBLISHED[:3])
    assert values.tolist() == [1.0, 2.0, 3.0]
    assert counts.tolist() == [[3, 0, 0], [0, 3, 1], [0, 0, 4]]


@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_equals_scikit_learn_on_random_labels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.choice(["dent", "scratch", "stain", "ok"], size=200)
    b = np.where(rng.random(200) < 0.6, a, rng.choice(["dent", "scratch", "stain"], size=200))
    assert cohen_kappa(a, b) == cohen_kappa_score(a, b)


def test_cohen_kappa_of_the_textbook_two_by_two_table() -> None:
    # 50 proposals: both yes 20, A yes B no 5, A no B yes 10, both no 15; p_o 0.7, p_e 0.5
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_fleiss_kappa_equals_statsmodels_on_random_tables(seed: int) -> None:
    rng = np.random.default_rng(seed)
    raters, categories = int(rng.integers(2, 8)), int(rng.integers(2, 6))
    shares = rng.dirichlet(np.ones(categories), size=30)
    counts = np.array([rng.multinomial(raters, p) for p in shares])
    assert fleiss_kappa(counts) == statsmodels_fleiss_kappa(counts, method="fleiss")


def test_fleiss_kappa_of_the_wikipedia_example() -> None:
    kappa = fleiss_kappa(FLEISS_EXAMPLE)
    assert kappa == statsmodels_fleiss_kappa(FLEISS_EXAMPLE, method="fleiss")
    assert round(kappa, 3) == 0.210


def test_undefined_coefficients_raise_a_data_error_that_says_why() -> None:
    one_category = np.array([[1, 1], [1, 1], [1, nan]])
    with pytest.raises(
        DataError, match=r"alpha is undefined when every value is in one category \('1.0'\)"
    ):
        krippendorff_alpha(one_category)
    with pytest.raises(DataError, match="alpha needs a unit with two or more values; no unit has"):
        krippendorff_alpha(np.array([[1, nan], [nan, 2]]))
    with pytest.raises(DataError, match="raw agreement needs a unit with two or more values"):
        raw_agreement(np.array([[1, nan], [nan, 2]]))
    with pytest.raises(
        DataError,
        match=r"Cohen's kappa is undefined when both coders give one and the same class \('ok'\)",
    ):
        cohen_kappa(["ok", "ok"], ["ok", "ok"])
    with pytest.raises(
        DataError, match="Fleiss' kappa is undefined when every value is in one category"
    ):
        fleiss_kappa(np.array([[3, 0], [3, 0]]))


def test_fleiss_kappa_needs_the_same_number_of_values_on_every_unit() -> None:
    with pytest.raises(
        DataError,
        match=r"the same number \(two or more\) of values on every unit; units have 2 to 3",
    ):
        fleiss_kappa(np.array([[2, 1], [1, 1]]))


def test_an_unknown_level_names_the_levels_allowed() -> None:
    with pytest.raises(
        ConfigError,
        match="level 'nominl' is not one of nominal, ordinal, interval; did you mean 'nominal'",
    ):
        krippendorff_alpha(PUBLISHED, "nominl")  # type: ignore[arg-type]
