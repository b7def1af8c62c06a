"""The labels report: agreement, confused classes, consensus, disputes and HLP on real tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from prodml.data.agreement import krippendorff_alpha
from prodml.data.labels import label_report, standardise
from prodml.errors import ConfigError, DataError

DEFECTS = ["deep scratch", "dent", "shallow scratch", "stain"]


def confusion(accuracy: float, k: int = 4) -> np.ndarray:
    """Right with probability ``accuracy``, else any other class alike."""
    return np.full((k, k), (1 - accuracy) / (k - 1)) + np.eye(k) * (
        accuracy - (1 - accuracy) / (k - 1)
    )


def simulate(
    matrices: list[np.ndarray], n: int = 600, seed: int = 0
) -> tuple[pd.DataFrame, pd.Series]:
    """Every labeler labels every example, drawing from its row of the true class."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(DEFECTS), size=n)
    rows = []
    for j, matrix in enumerate(matrices):
        given = (rng.random(n)[:, None] > np.cumsum(matrix[truth], axis=1)).sum(axis=1)
        rows.append(
            pd.DataFrame(
                {"example": np.arange(n), "labeler": f"L{j}", "label": np.array(DEFECTS)[given]}
            )
        )
    return pd.concat(rows, ignore_index=True), pd.Series(np.array(DEFECTS)[truth])


def table(rows: str) -> pd.DataFrame:
    """``"e1 ann dent; e1 bob dent"`` as a labels frame."""
    return pd.DataFrame(
        [r.split() for r in rows.split(";")], columns=["example", "labeler", "label"]
    )


def test_missing_columns_are_named_with_the_columns_present_and_a_suggestion() -> None:
    frame = pd.DataFrame({"example": [1], "labeller": ["ann"], "label": ["dent"]})
    with pytest.raises(
        DataError,
        match="the labels have no column 'labeler'; columns are: example, labeller, label; did you mean 'labeller'",
    ):
        label_report(frame)


def test_standardise_maps_classes_together_and_merges_spellings_into_the_most_frequent() -> None:
    frame = pd.DataFrame(
        {
            "label": [
                "deep scratch",
                "Shallow_Scratch",
                "Scratch ",
                "scratch",
                "SCRATCH",
                "scratch",
                "dent",
                7,
            ]
        }
    )
    mapped = standardise(frame, {"deep scratch": "scratch", "shallow scratch": "Scratch"})
    assert mapped["label"].tolist() == ["scratch"] * 6 + ["dent", 7]
    assert frame["label"].iloc[0] == "deep scratch"  # a copy, the input is left alone


def test_standardise_refuses_one_label_mapped_two_ways() -> None:
    with pytest.raises(
        ConfigError,
        match="'Deep-Scratch' is another spelling of a label already mapped to 'scratch', not 'dent'",
    ):
        standardise(
            pd.DataFrame({"label": ["x"]}), {"deep scratch": "scratch", "Deep-Scratch": "dent"}
        )


def test_hlp_against_truth_equals_each_labelers_accuracy() -> None:
    labels, truth = simulate([confusion(0.9), confusion(0.8), confusion(0.7)])
    report = label_report(labels, truth=truth)

    accuracy = (labels["label"] == labels["example"].map(truth)).groupby(labels["labeler"]).mean()
    assert [r["hlp"]["value"] for r in report.labelers] == pytest.approx(
        accuracy.tolist(), abs=1e-12
    )
    assert [r["truth_accuracy"] for r in report.labelers] == pytest.approx(
        accuracy.tolist(), abs=1e-12
    )
    assert accuracy.round(1).tolist() == [0.9, 0.8, 0.7]
    assert report.hlp["value"] == pytest.approx(accuracy.mean(), abs=1e-12)
    assert report.hlp["against"] == "truth"
    assert (report.hlp["labels"], report.hlp["against_truth"]) == (1800, 1800)


def test_hlp_falls_back_to_the_others_consensus_where_truth_is_missing() -> None:
    labels = table("1 ann dent; 1 bob dent; 1 cat stain; 2 ann dent; 2 bob stain; 2 cat stain")
    # without truth only two labels have a consensus of the others: cat's on 1 (dent, dent)
    # and ann's on 2 (stain, stain); every other label's others split one to one
    alone = label_report(labels).hlp
    assert (alone["value"], alone["labels"], alone["against"]) == (0.0, 2, "consensus")

    report = label_report(labels, truth=pd.Series({"1": "stain"}))
    # example 1 against truth: ann and bob wrong, cat right; ann on 2 against the others
    assert [r["hlp"]["value"] for r in report.labelers] == [0.0, 0.0, 1.0]
    assert report.hlp == {
        "value": 0.25,
        "labels": 4,
        "against": "truth and consensus",
        "against_truth": 3,
        "against_consensus": 1,
        "slices": [],
    }


def test_leave_one_out_consensus_takes_the_others_majority_only() -> None:
    labels = table(
        "1 ann dent; 1 bob dent; 1 cat dent; 1 dan stain;"  # everyone's others: dent
        "2 ann dent; 2 bob stain; 2 cat stain; 2 dan stain;"  # everyone's others: stain
        "3 ann dent; 3 bob stain;"  # one other each: that one is the consensus
        "4 ann dent; 4 bob stain; 4 dan stain"  # bob's and dan's others tie: no consensus
    )
    rows = {r["labeler"]: r for r in label_report(labels).labelers}
    assert {n: (r["consensus_agreement"], r["consensus_labels"]) for n, r in rows.items()} == {
        "ann": (1 / 4, 4),
        "bob": (2 / 3, 3),
        "cat": (1.0, 2),
        "dan": (0.5, 2),
    }
    assert {n: r["labels"] for n, r in rows.items()} == {"ann": 4, "bob": 4, "cat": 2, "dan": 3}


def test_disputed_examples_rank_by_disagreement_then_by_more_labels() -> None:
    labels = table(
        "a ann dent; a bob stain;"  # 1/2 disagree, 2 labels
        "b ann dent; b bob stain; b cat dent; b dan stain;"  # 1/2, 4 labels: before a
        "c ann dent; c bob dent; c cat stain;"  # 1/3
        "d ann dent; d bob dent"  # unanimous: not disputed
    )
    report = label_report(labels, disputed=2)
    assert report.disputed == [
        {
            "example": "b",
            "disagreement": 0.5,
            "majority": "dent",
            "labels": {"dent": 2, "stain": 2},
            "by_labeler": {"ann": "dent", "bob": "stain", "cat": "dent", "dan": "stain"},
        },
        {
            "example": "a",
            "disagreement": 0.5,
            "majority": "dent",
            "labels": {"dent": 1, "stain": 1},
            "by_labeler": {"ann": "dent", "bob": "stain"},
        },
    ]
    assert [d["example"] for d in label_report(labels).disputed] == ["b", "a", "c"]


def test_consensus_marks_ties_and_takes_the_first_label_in_sorted_order() -> None:
    labels = table("1 ann stain; 1 bob dent; 2 ann stain; 2 bob stain; 2 cat dent")
    assert label_report(labels).consensus == [
        {"example": "1", "label": "dent", "votes": 1, "labels": 2, "tie": True},
        {"example": "2", "label": "stain", "votes": 2, "labels": 3, "tie": False},
    ]


def test_the_most_confused_class_pair_leads() -> None:
    # deep and shallow scratch are swapped a third of the time, anything else rarely
    planted = confusion(0.95)
    planted[[0, 2]] = [[0.64, 0.02, 0.32, 0.02], [0.32, 0.02, 0.64, 0.02]]
    labels, _ = simulate([planted] * 3)
    report = label_report(labels)

    assert report.confused_pairs[0]["classes"] == ["deep scratch", "shallow scratch"]
    assert report.confused_pairs[0]["share"] > 0.5
    assert [p["coincidences"] for p in report.confused_pairs] == sorted(
        (p["coincidences"] for p in report.confused_pairs), reverse=True
    )
    specific = {c["class"]: c["specific_agreement"] for c in report.classes}
    assert max(specific["deep scratch"], specific["shallow scratch"]) < min(
        specific["dent"], specific["stain"]
    )


def test_cohen_is_given_only_for_two_labelers_and_fleiss_only_for_equal_counts() -> None:
    two, _ = simulate([confusion(0.8), confusion(0.7)], n=100)
    two = two.drop(index=[0, 1])  # L0 leaves examples 0 and 1 to L1 alone
    agreement = label_report(two).agreement
    wide = two.pivot(index="example", columns="labeler", values="label").dropna()
    assert agreement["cohen_kappa"] == {
        "value": cohen_kappa_score(wide["L0"], wide["L1"]),
        "note": "on the 98 examples both L0 and L1 labeled",
    }
    assert agreement["fleiss_kappa"] == {
        "value": None,
        "note": "examples have 1 to 2 labels; Fleiss' kappa needs the same number, two or more, on every example",
    }
    three = label_report(simulate([confusion(0.8)] * 3, n=100)[0]).agreement
    assert three["cohen_kappa"] == {
        "value": None,
        "note": "Cohen's kappa is for two labelers; there are 3",
    }
    assert three["fleiss_kappa"]["note"] == "every example has 3 labels"
    assert three["fleiss_kappa"]["value"] is not None


def test_alpha_in_the_report_is_krippendorffs_alpha_of_the_labels() -> None:
    ratings = pd.DataFrame(
        {
            "example": [1, 1, 2, 2, 2, 3, 3, 4],
            "labeler": list("abcabcab"),
            "label": [1, 2, 3, 3, 3, 1, 1, 5],
        }
    )
    units = ratings.pivot(index="example", columns="labeler", values="label").to_numpy(dtype=float)
    for level in ("nominal", "ordinal", "interval"):
        alpha = label_report(ratings, level=level).agreement["krippendorff_alpha"]
        assert alpha["value"] == pytest.approx(krippendorff_alpha(units, level), rel=1e-12)
    text = label_report(table("1 ann dent; 1 bob stain"), level="ordinal").agreement
    assert text["krippendorff_alpha"] == {
        "value": None,
        "note": "the ordinal level needs numeric labels; labels include 'dent'",
    }


def test_dawid_skene_recovers_the_truth_at_least_as_well_as_majority_vote() -> None:
    # two careful labelers and three who mistake dent for stain and deep for shallow scratch
    careless = np.array(
        [[0.6, 0.0, 0.4, 0.0], [0.0, 0.5, 0.0, 0.5], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    )
    matrices = [confusion(0.9), confusion(0.85), careless, careless, careless]
    labels, truth = simulate(matrices, n=800, seed=1)
    report = label_report(labels, dawid_skene=True)

    consensus = pd.DataFrame(report.consensus).set_index("example")
    majority = (consensus["label"] == truth).mean()
    dawid_skene = (consensus["dawid_skene"] == truth).mean()
    assert dawid_skene >= majority
    assert dawid_skene > 0.95
    assert report.dawid_skene is not None and report.dawid_skene["converged"]
    estimated = report.dawid_skene["confusion"]["L2"]
    assert estimated["dent"]["stain"] == pytest.approx(0.5, abs=0.07)
    assert estimated["stain"]["stain"] == pytest.approx(1.0, abs=0.02)


def test_hlp_per_slice_is_the_accuracy_on_the_slices_examples() -> None:
    labels, truth = simulate([confusion(0.9), confusion(0.6)], n=400, seed=2)
    region = pd.Series(np.where(np.arange(400) % 3 == 0, "north", "south"))
    gender = pd.Series(np.where(np.arange(400) % 2 == 0, "female", "male"))
    metadata = pd.DataFrame({"region": region, "gender": gender})
    slices = label_report(labels, truth=truth, slices=metadata).hlp["slices"]

    right = labels["label"] == labels["example"].map(truth)
    expected = [
        *right.groupby(labels["example"].map(region)).mean(),
        *right.groupby(labels["example"].map(gender)).mean(),
    ]
    assert [s["slice"] for s in slices] == [
        "region=north",
        "region=south",
        "gender=female",
        "gender=male",
    ]
    assert [s["value"] for s in slices] == pytest.approx(expected, abs=1e-12)
    assert [s["labels"] for s in slices] == [268, 532, 400, 400]


def test_a_later_label_replaces_the_earlier_and_each_instructions_version_is_reported() -> None:
    labels = table("1 ann dent; 1 bob stain; 1 ann stain; 2 ann dent; 2 bob dent")
    labels["instructions"] = ["v1", "v1", "v2", "v1", "v1"]
    labels["time"] = pd.to_datetime(
        ["2024-01-02", "2024-01-01", "2024-02-01", "2024-01-01", "2024-01-01"]
    )
    report = label_report(labels)
    assert (report.counts["labels"], report.counts["replaced"]) == (4, 1)
    assert report.agreement["raw"]["value"] == 1.0  # ann's stain on 1 replaced her dent
    assert {v: s["agreement"]["raw"]["value"] for v, s in report.by_instructions.items()} == {
        "v1": 0.5,
        "v2": None,  # one label under v2: no pair to agree
    }
    assert report.by_instructions["v2"]["labels"] == 1


def test_to_dict_is_plain_json() -> None:
    labels, truth = simulate([confusion(0.9), confusion(0.8)], n=50)
    labels["example"] = labels["example"].astype(np.int64)
    report = label_report(labels, truth=truth, dawid_skene=True).to_dict()
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert list(report) == [
        "counts",
        "agreement",
        "confused_pairs",
        "classes",
        "labelers",
        "disputed",
        "consensus",
        "hlp",
        "dawid_skene",
        "by_instructions",
    ]
    assert report["counts"]["labels_per_example"] == {"min": 2, "mean": 2.0, "max": 2}
