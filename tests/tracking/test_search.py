"""Search: each candidate a child run, scored as scikit-learn scores it, the best kept."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import StratifiedKFold, cross_val_score

import prodml
from prodml.errors import ConfigError, ModelError
from prodml.tracking.search import Candidate


def test_grid_search_scores_match_sklearn_and_keep_the_best(project: prodml.Project) -> None:
    seen: list[tuple[int, int, Candidate]] = []
    best = project.search(lambda done, total, c: seen.append((done, total, c)))
    children = project.runs(parent=best.id)
    assert len(children) == len(seen) == 5  # C in [0.01, 0.1, 1, 10, 100]
    assert [s[0] for s in seen] == [1, 2, 3, 4, 5] and {s[1] for s in seen} == {5}
    assert all(c.kind == "candidate" and c.status == "finished" for c in children)

    data = project.load_data()
    train = data.rows(project.split(data).rows("train"))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    model = project.runs_store.artifacts.load(best.artifact("model"))
    by_c = {}
    for candidate in seen:
        expected = cross_val_score(
            clone(model).set_params(**candidate[2].params),
            train.X,
            train.y,
            cv=folds,
            scoring="roc_auc",
        ).mean()
        assert candidate[2].score == pytest.approx(expected, rel=1e-12)
        by_c[candidate[2].params["logisticregression__C"]] = expected
    best_c = max(by_c, key=lambda c: by_c[c])
    assert best.params is not None and best.params["logisticregression__C"] == best_c
    assert best.kind == "search" and best.artifact("model").sha256
    assert best.metrics is not None and best.metrics["cv.roc_auc.mean"] == pytest.approx(
        by_c[best_c]
    )


def test_a_search_s_time_is_the_whole_search_with_the_refit_s_beside_it(
    project: prodml.Project,
) -> None:
    best = project.search()
    children = project.runs(parent=best.id)
    assert best.fit_seconds is not None and best.metrics is not None
    assert best.ended_at is not None
    refit = best.metrics["search.refit_seconds"]

    assert 0 < refit < best.fit_seconds
    assert best.fit_seconds >= sum(c.fit_seconds or 0 for c in children) + refit
    assert best.fit_seconds <= (best.ended_at - best.started_at).total_seconds()


def test_default_scoring_is_f1_of_the_positive_class(
    project: prodml.Project, rewrite: Callable[..., prodml.Project]
) -> None:
    project = rewrite(project, "  scoring: roc_auc\n", "")
    seen: list[Candidate] = []
    best = project.search(lambda d, t, c: seen.append(c))
    data = project.load_data()
    train = data.rows(project.split(data).rows("train"))
    model = project.load_model(best.id)
    scorer = make_scorer(f1_score, pos_label="malignant")
    expected = cross_val_score(
        clone(model).set_params(**seen[0].params),
        train.X,
        train.y,
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
        scoring=scorer,
    ).mean()
    assert seen[0].score == pytest.approx(expected, rel=1e-12)
    assert best.metrics is not None and "cv.f1[malignant].mean" in best.metrics


def test_random_search_is_reproducible_for_a_seed(
    project: prodml.Project, rewrite: Callable[..., prodml.Project]
) -> None:
    project = rewrite(
        project,
        "method: grid\n  params:\n    logisticregression__C: [0.01, 0.1, 1, 10, 100]",
        "method: random\n  n_iter: 3\n  params:\n"
        "    logisticregression__C: {dist: loguniform, low: 0.001, high: 100}",
    )
    first: list[Candidate] = []
    second: list[Candidate] = []
    project.search(lambda d, t, c: first.append(c))
    project.search(lambda d, t, c: second.append(c))
    assert len(first) == 3
    assert [c.params for c in first] == [c.params for c in second]
    values = [c.params["logisticregression__C"] for c in first]
    assert all(0.001 <= v <= 100 for v in values) and len(set(values)) == 3
    assert np.isfinite([c.score or np.nan for c in first]).all()


def test_unknown_search_parameter_is_refused_before_any_run(
    project: prodml.Project, rewrite: Callable[..., prodml.Project]
) -> None:
    project = rewrite(project, "logisticregression__C:", "logisticregresion__C:")
    with pytest.raises(
        ModelError,
        match=r"search.params 'logisticregresion__C' is not a parameter "
        r"of the model; .*did you mean 'logisticregression__C'\?",
    ):
        project.search()
    assert project.runs() == []


def test_unknown_scorer_suggests_one(
    project: prodml.Project, rewrite: Callable[..., prodml.Project]
) -> None:
    project = rewrite(project, "scoring: roc_auc", "scoring: roc_acu")
    with pytest.raises(
        ModelError,
        match=r"search.scoring 'roc_acu' is not a scikit-learn scorer; .*did you mean 'roc_auc'\?",
    ):
        project.search()


def test_search_without_settings_says_what_to_add(project: prodml.Project) -> None:
    text = (project.path / "prodml.yaml").read_text()
    (project.path / "prodml.yaml").write_text(text[: text.index("search:")])
    with pytest.raises(ConfigError, match=r"search is not set in prodml.yaml; add e.g."):
        prodml.Project(project.path).search()
