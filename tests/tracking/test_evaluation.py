"""``Project.evaluate``: a real project, a real fitted model, its evaluation and the store."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

import prodml
from prodml.errors import ConfigError, DataError, NotFoundError

if TYPE_CHECKING:
    from tests.tracking.conftest import Rewrite

#: The course's error-analysis table: slice, share of data, model accuracy, HLP.
COURSE = {
    "clean_speech": (0.60, 0.94, 0.95),
    "car_noise": (0.04, 0.89, 0.93),
    "people_noise": (0.30, 0.87, 0.89),
    "low_bandwidth": (0.06, 0.70, 0.70),
}
RULE = "def echo(X):\n    return X['model_says']\n"


def _write_project(folder: Path, frame: pd.DataFrame, evaluate: str) -> prodml.Project:
    folder.mkdir()
    frame.to_csv(folder / "data.csv", index=False)
    (folder / "rules.py").write_text(RULE)
    (folder / "prodml.yaml").write_text(
        "project: speech\n"
        "data: {source: data.csv, target: label, id: clip, positive_class: 1}\n"
        "model: rules:rules.py:echo\n" + evaluate
    )
    return prodml.Project(folder)


def _course_data(rows: int = 5000) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Clips whose model and human answers are right exactly as often as the course says."""
    rng = np.random.default_rng(0)
    parts, tags, human = [], [], []
    start = 0
    for tag, (share, model_right, human_right) in COURSE.items():
        n = round(share * rows)
        clip = np.arange(start, start + n)
        label = rng.integers(0, 2, n)
        model_says = np.where(np.arange(n) < round(model_right * n), label, 1 - label)
        human_says = np.where(rng.permutation(n) < round(human_right * n), label, 1 - label)
        parts.append(pd.DataFrame({"clip": clip, "model_says": model_says, "label": label}))
        tags.append(pd.DataFrame({"clip": clip, "tags": tag}))
        human.append(pd.DataFrame({"clip": clip, "label": human_says}))
        start += n
    return pd.concat(parts), pd.concat(tags), pd.concat(human)


def test_priority_table_reproduces_the_course(tmp_path: Path) -> None:
    frame, tags, human = _course_data()
    folder = tmp_path / "speech"
    project = _write_project(
        folder, frame, "evaluate: {tags: tags.csv, human: human.csv, min_count: 30}\n"
    )
    tags.to_csv(folder / "tags.csv", index=False)
    human.to_csv(folder / "human.csv", index=False)
    project.fit()
    result = project.evaluate(data=folder / "data.csv").result

    table = {s["name"]: s for s in result["slices"]}
    # clean and people noise tie at 0.6%; people noise has more of the errors, so it leads
    assert [s["name"] for s in result["slices"]] == [
        "tag:people_noise",
        "tag:clean_speech",
        "tag:car_noise",
        "tag:low_bandwidth",
    ]
    for tag, (share, model_right, human_right) in COURSE.items():
        row = table[f"tag:{tag}"]
        assert row["reference_name"] == "HLP"
        assert row["share"] == pytest.approx(share, abs=1e-12)
        assert row["value"] == pytest.approx(model_right, abs=1e-12)
        assert row["reference"] == pytest.approx(human_right, abs=1e-12)
        assert row["gap"] == pytest.approx(human_right - model_right, abs=1e-12)
        assert row["gain"] == pytest.approx((human_right - model_right) * share, abs=1e-12)
    # gains of the course: 0.6%, 0.16%, 0.6%, 0%
    assert [round(table[f"tag:{t}"]["gain"] * 100, 2) for t in COURSE] == [0.6, 0.16, 0.6, 0.0]
    hlp = next(b for b in result["baselines"] if b["kind"] == "hlp")
    assert hlp["rows"] == 5000
    assert hlp["metrics"]["accuracy"] == pytest.approx(
        sum(share * right for share, _, right in COURSE.values()), abs=1e-12
    )


def _course_without_hlp(tmp_path: Path, min_count: int) -> dict[str, Any]:
    """The course's clips evaluated with their tags but no human labels."""
    frame, tags, _ = _course_data()
    folder = tmp_path / "speech"
    project = _write_project(
        folder, frame, f"evaluate: {{tags: tags.csv, min_count: {min_count}}}\n"
    )
    tags.to_csv(folder / "tags.csv", index=False)
    project.fit()
    result: dict[str, Any] = project.evaluate(data=folder / "data.csv").result
    return result


def test_without_hlp_slices_are_compared_with_the_model_overall(tmp_path: Path) -> None:
    frame, _, _ = _course_data()
    overall = accuracy_score(frame["label"], frame["model_says"])

    result = _course_without_hlp(tmp_path, min_count=30)

    table = {s["name"]: s for s in result["slices"]}
    for tag, (share, model_right, _) in COURSE.items():
        row = table[f"tag:{tag}"]
        assert (row["reference_name"], row["reference"]) == ("model overall", overall)
        assert row["gap"] == pytest.approx(max(overall - model_right, 0.0), abs=1e-12)
        assert row["gain"] == pytest.approx(row["gap"] * share, abs=1e-12)
    # low bandwidth is 20 points below the model's 90%: it leads, clean speech is ahead
    assert [s["name"] for s in result["slices"]] == [
        "tag:low_bandwidth",
        "tag:people_noise",
        "tag:car_noise",
        "tag:clean_speech",
    ]


def test_slices_with_too_few_rows_rank_after_the_others(tmp_path: Path) -> None:
    # low bandwidth (300 clips) and car noise (200) have the largest gaps but too few rows
    result = _course_without_hlp(tmp_path, min_count=301)

    ranked = [(s["name"], s["sufficient"]) for s in result["slices"]]
    assert ranked == [
        ("tag:people_noise", True),
        ("tag:clean_speech", True),
        ("tag:low_bandwidth", False),
        ("tag:car_noise", False),
    ]


def test_an_audit_across_groups_says_which_groups_are_under_min_count(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    region = np.array(["north"] * 200 + ["south"] * 191 + ["east"] * 9)
    label = rng.integers(0, 2, region.size)
    frame = pd.DataFrame(
        {"clip": range(region.size), "region": region, "model_says": label, "label": label}
    )
    project = _write_project(
        tmp_path / "regions",
        frame,
        "evaluate:\n  slices: [region]\n  audit:\n"
        "    - {metric: accuracy, across: region, max_gap: 0.1}\n"
        "    - {metric: accuracy, across: region, min_ratio: 0.9}\n",
    )
    project.fit()

    rules = project.evaluate(data=tmp_path / "regions" / "data.csv").result["audit"]["rules"]

    for rule in rules:
        assert rule["reason"].endswith(
            "; too few rows to judge (evaluate.min_count is 30): region=east has 9"
        ), rule["reason"]


def test_evaluating_a_file_without_some_targets_says_so_and_how_to_leave_them_out(
    tmp_path: Path,
) -> None:
    frame, _, _ = _course_data(rows=200)
    project = _write_project(tmp_path / "speech", frame, "")
    project.fit()
    frame.assign(label=frame["label"].where(frame["clip"] % 50 != 7)).to_csv(
        tmp_path / "new.csv", index=False
    )

    with pytest.raises(
        DataError,
        match=r"missing in 4 rows of .*new.csv \(clip 7, 57, 107, 157\), and evaluating "
        r"needs a target on every row: .* data.missing_target: drop",
    ):
        project.evaluate(data=tmp_path / "new.csv")


def test_evaluate_judges_rows_as_the_server_does(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    label = rng.integers(0, 2, 400)
    frame = pd.DataFrame(
        {"clip": range(400), "color": rng.choice(["red", "green"], 400), "model_says": label}
    ).assign(label=label)
    folder = tmp_path / "colors"
    project = _write_project(folder, frame, "")
    project.fit()
    new = frame.head(50).copy()
    new.loc[[3, 9], "color"] = "blue"
    new.to_csv(tmp_path / "new.csv", index=False)

    with pytest.raises(
        DataError,
        match=r"new.csv: column 'color' has 1 value never seen in training: 'blue' \(2\); .* "
        r"\(rows 3, 9\); the server refuses such rows, so they cannot be evaluated as served",
    ):
        project.evaluate(data=tmp_path / "new.csv")
    with open(folder / "prodml.yaml", "a", encoding="utf-8") as file:
        file.write("serve: {unseen: predict}\n")
    answering = prodml.Project(folder)
    (warning,) = answering.evaluate(data=tmp_path / "new.csv").result["warnings"]
    assert "'blue' (2)" in warning and "the model answers such rows" in warning
    # a missing value where training had none: refused whatever serve.unseen says
    new.assign(color="red").assign(model_says=new["model_says"].where(new["clip"] != 7)).to_csv(
        tmp_path / "gap.csv", index=False
    )
    with pytest.raises(DataError, match=r"'model_says' has 1 missing value .* \(rows 7\)"):
        answering.evaluate(data=tmp_path / "gap.csv")


def test_metrics_equal_sklearn_on_the_test_split(project: prodml.Project) -> None:
    run = project.fit()
    evaluation = project.evaluate()
    result = evaluation.result
    assert evaluation.run_id == run.id and result["data"]["source"] == f"test split of run {run.id}"

    data = project.load_data()
    assignment = project.runs_store.artifacts.load(run.artifact("split"))
    test = data.rows(np.flatnonzero(assignment == 2))
    model = project.load_model(run.id)
    predicted = model.predict(test.X)
    score = model.predict_proba(test.X)[:, list(model.classes_).index("malignant")]
    truth = test.y
    labels = ["benign", "malignant"]
    metrics = result["metrics"]
    assert result["labels"] == labels and result["data"]["rows"] == len(truth)
    assert result["confusion"] == confusion_matrix(truth, predicted, labels=labels).tolist()
    assert metrics["accuracy"] == accuracy_score(truth, predicted)
    for average in ("macro", "weighted"):
        assert metrics[f"f1_{average}"] == f1_score(truth, predicted, average=average)
        p, r, _, _ = precision_recall_fscore_support(truth, predicted, average=average)
        assert (metrics[f"precision_{average}"], metrics[f"recall_{average}"]) == (p, r)
    # malignant sorts after benign, but it is the positive class: its column is used
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(truth == "malignant", score))
    assert metrics["pr_auc"] == pytest.approx(average_precision_score(truth == "malignant", score))
    kinds = [b["kind"] for b in result["baselines"]]
    assert {"model", "majority", "stratified"} <= set(kinds)
    majority = next(b for b in result["baselines"] if b["kind"] == "majority")
    assert majority["metrics"]["accuracy"] == np.mean(truth == "benign")
    assert result["focus"] == "accuracy" and result["warnings"] == []
    assert result["audit"] == {"passed": True, "rules": []}


def test_positive_class_that_sorts_first_gets_its_own_auc(
    project: prodml.Project, rewrite: Rewrite
) -> None:
    changed = rewrite(project, "positive_class: malignant", "positive_class: benign")
    changed.fit()
    result = changed.evaluate().result
    model = changed.load_model()
    data = changed.load_data()
    assignment = changed.runs_store.artifacts.load(changed.run().artifact("split"))
    test = data.rows(np.flatnonzero(assignment == 2))
    score = model.predict_proba(test.X)[:, 0]
    assert result["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(test.y == "benign", score))


def test_skewed_data_warn_and_rank_by_recall(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 2000
    label = (rng.random(n) < 0.04).astype(int)  # 4% positives
    noisy = np.where(rng.random(n) < 0.5, label, 0)  # the model finds half of them
    frame = pd.DataFrame({"clip": range(n), "model_says": noisy, "label": label})
    project = _write_project(tmp_path / "skew", frame, "")
    project.fit()
    result = project.evaluate().result

    assert result["focus"] == "recall[1]"
    assert "accuracy is misleading here" in result["warnings"][0]
    assert "recall and F1 of class 1" in result["warnings"][0]
    ranked = [b["kind"] for b in result["baselines"]]
    recalls = [b["metrics"]["recall[1]"] for b in result["baselines"]]
    assert recalls == sorted(recalls, reverse=True)
    assert ranked.index("model") < ranked.index("majority")
    majority = next(b for b in result["baselines"] if b["kind"] == "majority")
    assert majority["metrics"]["recall[1]"] == 0.0


def test_slices_golden_and_audit_are_stored_with_the_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 1200
    label = rng.integers(0, 2, n)
    region = rng.choice(["north", "south"], n)
    # wrong on a third of the south, right in the north
    wrong = (region == "south") & (rng.random(n) < 1 / 3)
    frame = pd.DataFrame(
        {
            "clip": range(n),
            "region": region,
            "income": rng.integers(0, 100_000, n),
            "model_says": np.where(wrong, 1 - label, label),
            "label": label,
        }
    )
    folder = tmp_path / "regions"
    project = _write_project(
        folder,
        frame,
        "evaluate:\n"
        "  slices: [region, income < 20000, {column: income, bins: [0, 50000]}]\n"
        "  golden: golden.csv\n"
        "  min_count: 300\n"
        "  audit:\n"
        "    - {metric: accuracy, min: 0.5}\n"
        "    - {metric: accuracy, across: region, max_gap: 0.1}\n"
        "    - {golden: true}\n"
        "    - {metric: f1, beat: majority, by: 0.2}\n",
    )
    (folder / "prodml.yaml").write_text(
        (folder / "prodml.yaml").read_text().replace("id: clip,", "id: clip, metadata: [region],")
    )
    project = prodml.Project(folder)
    golden_ids = frame["clip"][wrong].head(3).tolist() + frame["clip"][~wrong].head(2).tolist()
    pd.DataFrame({"clip": golden_ids}).to_csv(folder / "golden.csv", index=False)
    project.fit()
    evaluation = project.evaluate(data=folder / "data.csv", sign_off="Ana Ruiz: regions checked")
    result = evaluation.result

    by_name = {s["name"]: s for s in result["slices"]}
    for region_name in ("north", "south"):
        rows = frame["region"] == region_name
        expected = accuracy_score(frame["label"][rows], frame["model_says"][rows])
        assert by_name[f"region={region_name}"]["metrics"]["accuracy"] == expected
    low = frame["income"] < 20000
    assert by_name["income < 20000"]["count"] == int(low.sum())
    # under min_count rows: still measured, but flagged as too small to judge
    assert int(low.sum()) < 300 and not by_name["income < 20000"]["sufficient"]
    assert by_name["region=north"]["sufficient"]
    assert by_name["income ≥ 50000"]["count"] == int((frame["income"] >= 50000).sum())

    golden = result["golden"]
    assert golden["count"] == 5
    assert [f["id"] for f in golden["failures"]] == [str(i) for i in golden_ids[:3]]
    rules = {r["rule"]: r for r in result["audit"]["rules"]}
    assert rules["accuracy >= 0.5"]["passed"]
    gap = rules["gap in accuracy across region <= 0.1"]
    assert not gap["passed"] and "region=south" in gap["reason"]
    assert gap["value"] == pytest.approx(
        by_name["region=north"]["value"] - by_name["region=south"]["value"]
    )
    assert not rules["golden examples all right"]["passed"]
    assert "3 of 5 golden examples are wrong" in rules["golden examples all right"]["reason"]
    assert rules["f1[1] beats majority by 0.2"]["passed"]
    assert result["audit"]["passed"] is False and evaluation.passed is False

    stored = project.evaluations()
    assert [e.id for e in stored] == [evaluation.id]
    assert stored[0].result == _jsonable(result)
    assert stored[0].sign_off is not None and stored[0].sign_off.by == "Ana Ruiz"
    assert result["sign_off"]["note"] == "regions checked"


def test_human_labels_as_a_column_must_not_be_a_feature(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"clip": range(40), "model_says": [0, 1] * 20, "label": [0, 1] * 20, "nurse": [1] * 40}
    )
    project = _write_project(tmp_path / "h", frame, "evaluate: {human: nurse}\n")
    project.fit()
    with pytest.raises(ConfigError, match=r"evaluate.human 'nurse' is a feature .* data.metadata"):
        project.evaluate()


def test_errors_name_the_key_and_the_fix(project: prodml.Project, rewrite: Rewrite) -> None:
    with pytest.raises(NotFoundError, match="no finished fit or search run to evaluate"):
        project.evaluate()
    project.sanity()
    with pytest.raises(NotFoundError, match="is a sanity run, which keeps no model"):
        project.evaluate(project.run().id)
    project.fit()
    moved = rewrite(project, "\nmodel:", "\nevaluate: {tags: missing.csv}\nmodel:")
    with pytest.raises(DataError, match=r"evaluate.tags 'missing.csv' does not exist"):
        moved.evaluate()
    sliced = rewrite(project, "evaluate: {tags: missing.csv}", "evaluate: {slices: [mean_radus]}")
    with pytest.raises(ConfigError, match=r"mean_radus.*did you mean 'mean_radius'"):
        sliced.evaluate()
    with pytest.raises(DataError, match="sign-off"):
        project.evaluate(sign_off="  ")


@pytest.mark.parametrize("sign_off", ["Ana Ruiz", "Ana Ruiz:", "Ana Ruiz:   \t"])
def test_a_sign_off_without_a_note_is_refused_and_nothing_is_stored(
    project: prodml.Project, sign_off: str
) -> None:
    project.fit()
    with pytest.raises(
        DataError, match="^" + re.escape(f"sign-off {sign_off!r} has no note; give who signs")
    ):
        project.evaluate(sign_off=sign_off)
    assert project.evaluations() == []


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))
