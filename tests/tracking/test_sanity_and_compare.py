"""The sanity check says plainly whether a model can overfit; compare lines runs up."""

from __future__ import annotations

from collections.abc import Callable

import prodml
from prodml.config import ModelSpec


def test_a_flexible_model_overfits_a_small_subset(
    project: prodml.Project, rewrite: Callable[..., prodml.Project]
) -> None:
    project = rewrite(
        project,
        "factory: sklearn.pipeline.make_pipeline",
        "factory: sklearn.pipeline.make_pipeline\n  params: {}",
    )
    result = project.sanity(rows=40)
    assert result.passed and result.score == 1.0 and result.rows == 40
    assert "it can learn from these features" in result.message
    assert result.run.kind == "sanity" and result.run.status == "finished"
    assert result.run.metrics == {"subset.accuracy": 1.0, "subset.rows": 40.0}


def test_a_constant_model_cannot_and_is_told_why(project: prodml.Project) -> None:
    text = (project.path / "prodml.yaml").read_text()
    start, end = text.index("\nmodel:"), text.index("\nsearch:")
    (project.path / "prodml.yaml").write_text(
        text[:start] + "\nmodel: sklearn.dummy.DummyClassifier\n" + text[end:]
    )
    result = prodml.Project(project.path).sanity(rows=60)
    assert not result.passed and result.score < 0.9
    assert "cannot even memorise a small subset" in result.message


def test_compare_defaults_to_the_two_newest_fits(project: prodml.Project) -> None:
    baseline = project.fit(ModelSpec(factory="sklearn.dummy.DummyClassifier"))
    project.sanity()
    model = project.fit()
    comparison = project.compare()
    assert [r.id for r in comparison.runs] == [baseline.id, model.id]
    rows = {(r.section, r.name): r for r in comparison.rows}
    assert rows[("run", "data")].differs is False
    assert rows[("run", "model")].differs is True
    accuracy = rows[("metrics", "test.accuracy")]
    assert accuracy.values == (
        (baseline.metrics or {})["test.accuracy"],
        (model.metrics or {})["test.accuracy"],
    )
    assert accuracy.differs
    assert rows[("params", "strategy")].values == ("prior", None)


def test_runs_are_found_by_unique_prefix(project: prodml.Project) -> None:
    run = project.fit()
    assert project.run(run.id[:5]).id == run.id
    assert project.run().id == run.id
