"""One conformance suite for every routing strategy (:mod:`prodml.serve.routing`), and the
sticky point: the same key routes the same way everywhere, and shares come out as asked."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import prodml
from prodml.serve.predictor import Predictor
from prodml.serve.routing import Alone, BlueGreen, Canary, Router, Shadow, point, router
from prodml.serve.source import Lineup, RunSource

#: mode, share: what each strategy is built from
LINEUPS = {
    "alone": Lineup(primary=1),
    "canary": Lineup(1, 2, "canary", 25.0),
    "shadow": Lineup(1, 2, "shadow", 40.0),
    "blue-green": Lineup(1, 2, "blue-green", 0.0),
}
KINDS = {"alone": Alone, "canary": Canary, "shadow": Shadow, "blue-green": BlueGreen}


@pytest.fixture(scope="module")
def versions(bc_project: Path) -> Iterator[tuple[Predictor, Predictor]]:
    """Two loaded predictors of the breast-cancer fit, as versions 1 and 2."""
    with prodml.Project(bc_project) as project:
        served = RunSource(project).load("breast-cancer")
    yield (
        Predictor(dataclasses.replace(served, version=1)),
        Predictor(dataclasses.replace(served, version=2)),
    )


@pytest.fixture(params=sorted(LINEUPS))
def routed(request: pytest.FixtureRequest, versions: tuple[Predictor, Predictor]) -> Router:
    lineup = LINEUPS[request.param]
    first, second = versions
    return router(lineup, first, second if lineup.candidate else None)


def test_each_mode_gets_its_strategy_with_roles_tagged(routed: Router) -> None:
    mode = next(m for m, k in KINDS.items() if isinstance(routed, k))
    primary, *rest = routed.predictors()

    assert primary is routed.primary and primary.role == "primary"
    assert primary.served.version == 1
    assert [(p.served.version, p.role) for p in rest] == ([] if mode == "alone" else [(2, mode)])


def test_every_answer_and_copy_is_a_routed_predictor_and_never_the_same_one(
    routed: Router,
) -> None:
    routed_ids = {id(p) for p in routed.predictors()}
    for at in np.linspace(0, 99.999, 1001):
        answer, copy = routed.answer(at), routed.copy(at)
        assert id(answer) in routed_ids
        assert copy is None or (id(copy) in routed_ids and copy is not answer)


def test_the_shares_come_out_as_asked(routed: Router) -> None:
    """Over 20,000 random points, the candidate answers (canary) or sees a copy (shadow)
    of its share, within a 99.9% binomial interval; otherwise the primary does all."""
    rng = np.random.default_rng(7)
    points = rng.uniform(0, 100, 20_000)
    lineup = next(LINEUPS[m] for m, k in KINDS.items() if isinstance(routed, k))
    answered = sum(routed.answer(at) is not routed.primary for at in points)
    copied = sum(routed.copy(at) is not None for at in points)
    expected = {"canary": (lineup.share, 0.0), "shadow": (0.0, lineup.share)}.get(
        lineup.mode or "", (0.0, 0.0)
    )
    for count, share in zip((answered, copied), expected, strict=True):
        low, high = stats.binom.interval(0.999, len(points), share / 100)
        assert low <= count <= high, (count, share)


def test_one_key_always_lands_on_one_point_and_keys_spread_evenly() -> None:
    keys = [f"customer-{i}" for i in range(20_000)]
    points = np.array([point(key) for key in keys])

    assert [point(key) for key in keys[:100]] == list(points[:100])  # sticky
    assert points.min() >= 0 and points.max() < 100
    assert stats.kstest(points / 100, "uniform").pvalue > 0.001
    unkeyed = np.array([point(None) for _ in range(20_000)])
    assert stats.kstest(unkeyed / 100, "uniform").pvalue > 0.001


def test_a_canary_answers_one_key_the_same_way_every_time(
    versions: tuple[Predictor, Predictor],
) -> None:
    canary = router(LINEUPS["canary"], *versions)
    for key in (f"user-{i}" for i in range(200)):
        chosen = {canary.answer(point(key)).served.version for _ in range(5)}
        assert len(chosen) == 1
        assert chosen == {2 if point(key) < 25 else 1}
