"""A synthetic loan-approval data set whose world changes on a known date.

Approval is a noisy logistic function of credit score, debt-to-income, the loan's size
relative to income, employment years and, mildly, purpose and home ownership. ``gender``
and ``region`` never enter that rule: they are metadata for slicing, though region
shifts income a little, as it does in real data.

From ``shift_after`` on, both kinds of drift happen at once: the applicants change
(about 15% lower incomes, younger, more ``business`` loans, more applications from the
south and east) and so does the rule (a stricter credit-score threshold and a heavier
weight on debt-to-income), so a model fitted on earlier rows decays.

Every random number is drawn before the shift is applied, so the rows before
``shift_after`` are the same whether or not there is a shift.

>>> loans = generate_loans(1_000, seed=1)
>>> loans.shape
(1000, 14)
>>> bool(loans["applied_at"].is_monotonic_increasing)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from prodml.errors import DataError

SHIFT_AFTER = "2024-10-01"

HOME_OWNERSHIP = ("rent", "mortgage", "own")
PURPOSES = ("car", "home_improvement", "debt_consolidation", "education", "business", "medical")
GENDERS = ("female", "male")
REGIONS = ("north", "south", "east", "west", "central")

_REGION_SHARE = np.array([0.22, 0.18, 0.20, 0.22, 0.18])
_REGION_SHARE_SHIFTED = np.array([0.14, 0.28, 0.26, 0.14, 0.18])
_REGION_INCOME = np.array([1.05, 0.90, 0.97, 1.10, 0.98])
_PURPOSE_SHARE = np.array([0.18, 0.15, 0.35, 0.10, 0.10, 0.12])
_PURPOSE_SHARE_SHIFTED = np.array([0.14, 0.12, 0.30, 0.10, 0.24, 0.10])
# median loan as a share of annual income, per purpose
_PURPOSE_SIZE = np.array([0.35, 0.30, 0.25, 0.30, 0.50, 0.12])
# log-odds added to approval, per purpose and per home ownership
_PURPOSE_EFFECT = np.array([0.3, 0.2, 0.0, -0.1, -0.5, -0.2])
_HOME_EFFECT = np.array([-0.2, 0.15, 0.3])

_INCOME_MEDIAN = 48_000.0
_SHIFT_INCOME = 0.85
_SHIFT_AGE = 0.78  # years past 18 shrink by this factor: younger applicants
_SCORE_THRESHOLD, _SCORE_THRESHOLD_SHIFTED = 640.0, 680.0
_DTI_WEIGHT, _DTI_WEIGHT_SHIFTED = 4.0, 7.0
_MISSING_EMPLOYMENT = 0.015
_BASE_LOGIT = -0.8  # about 62% approved before the shift


def generate_loans(
    n: int = 20_000,
    *,
    seed: int = 7,
    start: str = "2023-01-01",
    end: str = "2024-12-31",
    shift_after: str | None = SHIFT_AFTER,
) -> pd.DataFrame:
    """Generate ``n`` loan applications from ``start`` to ``end``, sorted by time.

    Deterministic for a ``seed``. Rows applied on or after ``shift_after`` come from
    a shifted population under a stricter rule; ``shift_after=None`` means no shift.

    >>> loans = generate_loans(2_000, seed=3, shift_after=None)
    >>> list(loans.columns[:3])
    ['application_id', 'applied_at', 'age']
    >>> bool(0.5 < loans["approved"].mean() < 0.7)
    True
    """
    if n < 1:
        raise DataError(f"n {n} must be at least 1; ask for a positive number of rows")
    first, last = _day(start, "start"), _day(end, "end")
    if last < first:
        raise DataError(f"end {end} comes before start {start}; swap them")
    rng = np.random.default_rng(seed)

    applied_at = _application_times(rng, n, first, last)
    shifted = (
        np.zeros(n, dtype=bool)
        if shift_after is None
        else applied_at >= _day(shift_after, "shift_after").astype("datetime64[s]")
    )

    # draw everything first, so the shift only transforms rows and never reorders draws
    u_region, u_gender, u_home, u_purpose, u_term, u_approve, u_missing = rng.random((7, n))
    z_income, z_size, z_score = rng.standard_normal((3, n))
    age_draw = rng.gamma(4.0, 5.5, n)
    career_share = rng.beta(2.0, 3.0, n)
    dti_draw = rng.beta(2.2, 5.0, n)

    region = _pick(u_region, np.where(shifted[:, None], _REGION_SHARE_SHIFTED, _REGION_SHARE))
    gender = (u_gender < 0.52).astype(np.int64)
    years_adult = np.where(shifted, age_draw * _SHIFT_AGE, age_draw)
    age = np.clip(np.round(18 + years_adult), 18, 80).astype(np.int64)
    income = (
        _INCOME_MEDIAN
        * _REGION_INCOME[region]
        * np.exp(0.45 * z_income - 0.0006 * (age - 45) ** 2)
        * np.where(shifted, _SHIFT_INCOME, 1.0)
    )
    income = np.round(income, -1)
    employment_years = np.round((age - 18) * career_share, 1)

    home = _pick(u_home, _home_shares(age, income))
    purpose = _pick(u_purpose, np.where(shifted[:, None], _PURPOSE_SHARE_SHIFTED, _PURPOSE_SHARE))
    loan_amount = np.clip(income * _PURPOSE_SIZE[purpose] * np.exp(0.45 * z_size), 1_000, 150_000)
    loan_amount = np.round(loan_amount, -2)
    loan_to_income = loan_amount / income
    term_months = np.where(u_term < _sigmoid(6.0 * (loan_to_income - 0.3)), 60, 36)

    credit_score = 680 + 1.2 * (age - 40) + 25 * np.log(income / _INCOME_MEDIAN) + 60 * z_score
    credit_score = np.clip(np.round(credit_score), 300, 850).astype(np.int64)
    debt_to_income = np.round(np.clip(dti_draw - 0.0003 * (credit_score - 680), 0.0, 0.99), 3)

    threshold = np.where(shifted, _SCORE_THRESHOLD_SHIFTED, _SCORE_THRESHOLD)
    dti_weight = np.where(shifted, _DTI_WEIGHT_SHIFTED, _DTI_WEIGHT)
    logit = (
        _BASE_LOGIT
        + 0.025 * (credit_score - threshold)
        - dti_weight * (debt_to_income - 0.3)
        - 2.5 * (loan_to_income - 0.3)
        + 0.1 * np.minimum(employment_years, 10)
        + _PURPOSE_EFFECT[purpose]
        + _HOME_EFFECT[home]
    )
    approved = (u_approve < _sigmoid(logit)).astype(np.int64)
    # unrecorded employment is realistic noise in the data; the rule above saw the truth
    employment_years = np.where(u_missing < _MISSING_EMPLOYMENT, np.nan, employment_years)

    return pd.DataFrame(
        {
            "application_id": np.arange(1, n + 1, dtype=np.int64),
            "applied_at": applied_at.astype("datetime64[ns]"),
            "age": age,
            "income": income,
            "loan_amount": loan_amount,
            "term_months": term_months.astype(np.int64),
            "credit_score": credit_score,
            "debt_to_income": debt_to_income,
            "employment_years": employment_years,
            "home_ownership": np.asarray(HOME_OWNERSHIP)[home],
            "purpose": np.asarray(PURPOSES)[purpose],
            "gender": np.asarray(GENDERS)[gender],
            "region": np.asarray(REGIONS)[region],
            "approved": approved,
        }
    )


def _day(value: str, name: str) -> np.datetime64:
    try:
        return np.datetime64(value, "D")
    except ValueError:
        raise DataError(
            f"{name} {value!r} is not a date; write it as YYYY-MM-DD, e.g. 2024-10-01"
        ) from None


def _application_times(
    rng: np.random.Generator, n: int, first: np.datetime64, last: np.datetime64
) -> NDArray[np.datetime64]:
    """Sorted times: fewer on weekends, a spring peak, and slow growth over the period."""
    days = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    day_of_year = (days - days.astype("datetime64[Y]")).astype(np.int64)
    weight = (
        np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.4])[weekday]
        * (1 + 0.15 * np.sin(2 * np.pi * (day_of_year - 15) / 365.25))
        * np.linspace(1.0, 1.2, len(days))
    )
    chosen = rng.choice(len(days), size=n, p=weight / weight.sum())
    seconds = rng.integers(8 * 3600, 20 * 3600, n)
    times = days[chosen].astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    return np.sort(times)


def _home_shares(age: NDArray[np.int64], income: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rent, mortgage, own: older and richer applicants more often own or pay a mortgage."""
    mortgage = 0.06 * (age - 35) + 0.8 * np.log(income / _INCOME_MEDIAN)
    own = 0.10 * (age - 50)
    return _softmax(np.stack([np.zeros(len(age)), mortgage, own], axis=1))


def _pick(u: NDArray[np.float64], shares: NDArray[np.float64]) -> NDArray[np.intp]:
    """Category index per row, by inverse CDF of uniform draws over row-wise shares."""
    cumulative = np.cumsum(np.broadcast_to(shares, (len(u), shares.shape[-1])), axis=1)
    cumulative /= cumulative[:, -1:]
    index: NDArray[np.intp] = np.minimum(
        (u[:, None] > cumulative).sum(axis=1), shares.shape[-1] - 1
    )
    return index


def _softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    shares: NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
    return shares


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-x))
    return result


#: Three simulated underwriters who re-decide applications, each with a known confusion:
#: the chance of each decision (0, 1) given the true one, rows true 0 then true 1. Cho
#: approves too easily.
UNDERWRITERS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "ana": ((0.95, 0.05), (0.04, 0.96)),
    "ben": ((0.88, 0.12), (0.10, 0.90)),
    "cho": ((0.70, 0.30), (0.05, 0.95)),
}


def underwriter_labels(
    loans: pd.DataFrame, n: int = 3_000, *, seed: int = 11, after: str = "2024-07-01"
) -> pd.DataFrame:
    """Decisions of the three :data:`UNDERWRITERS` on ``n`` applications made on or after
    ``after`` (the test period of the loans example): one row per decision given.

    >>> labels = underwriter_labels(generate_loans(2_000, seed=1), n=100)
    >>> labels.shape, sorted(labels["underwriter"].unique())
    ((300, 3), ['ana', 'ben', 'cho'])
    """
    rng = np.random.default_rng(seed)
    later = loans[loans["applied_at"] >= pd.Timestamp(after)]
    if len(later) < n:
        raise DataError(f"only {len(later)} applications from {after} on; ask for at most that")
    chosen = later.iloc[np.sort(rng.choice(len(later), n, replace=False))]
    truth = chosen["approved"].to_numpy()
    frames = []
    for name, confusion in UNDERWRITERS.items():
        says_one = np.array([row[1] for row in confusion])[truth]
        decision = (rng.random(n) < says_one).astype(np.int64)
        frames.append(
            pd.DataFrame(
                {
                    "application_id": chosen["application_id"],
                    "underwriter": name,
                    "decision": decision,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
