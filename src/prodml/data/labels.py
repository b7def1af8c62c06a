"""The report on a labels file: agreement, confused classes, labelers, disputes, HLP.

The labels are a frame of one row per label given, with the columns ``example`` (the
example's id), ``labeler`` and ``label``, and optionally ``instructions`` (the version of
the labeling instructions) and ``time``. Where a labeler labeled an example more than
once, the latest label (by ``time``, else the last row) stands and the others are counted
as replaced; ``by_instructions`` looks at each version of the instructions on its own.

Human-level performance (HLP) is how often a labeler's label is right: against the ground
truth where it covers the example, else against the consensus of the *other* labelers,
their most frequent label when no other label is as frequent.

>>> frame = pd.DataFrame({
...     "example": [1, 1, 1, 2, 2, 2],
...     "labeler": ["ann", "bob", "cat"] * 2,
...     "label": ["dent", "dent", "scratch", "scratch", "scratch", "scratch"],
... })
>>> report = label_report(frame)
>>> report.agreement["raw"]["value"], report.hlp["value"], report.disputed[0]["labels"]
(0.6666666666666666, 0.75, {'dent': 2, 'scratch': 1})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from prodml.config import LabelsSettings
from prodml.data.agreement import (
    Level,
    alpha_from_coincidences,
    check_level,
    cohen_kappa,
    coincidences,
    fleiss_kappa,
    pair_agreement,
)
from prodml.data.sources import FileSource
from prodml.errors import ConfigError, DataError, did_you_mean, listing

REQUIRED = ("example", "labeler", "label")
#: a pseudo-count in Dawid-Skene's estimates: a label a labeler never gave for some true
#: class becomes unlikely rather than impossible, so one surprise cannot zero a posterior
SMOOTHING = 0.01

Json = dict[str, Any]


def read_labels(file: str, root: Path, settings: LabelsSettings) -> pd.DataFrame:
    """Read a labels file (``labels.file``): its columns renamed as ``labels:`` names them,
    example ids as text (they are matched with the data's ids), labels standardised."""
    frame = FileSource(root / file, file, "labels.file").load()
    columns = {settings.example: "example", settings.labeler: "labeler", settings.label: "label"}
    present = [str(c) for c in frame.columns]
    for name, role in columns.items():
        if name not in present:
            raise DataError(
                f"labels file '{file}' has no {role} column '{name}' (labels.{role}); columns "
                f"are: {listing(present)}{did_you_mean(name, present)}"
            )
    frame = frame.rename(columns=columns)
    frame["example"] = frame["example"].astype(str)
    return standardise(frame, settings.standardise)


def spelling(label: str) -> str:
    """The key under which spellings collapse: case, '_', '-' and extra spaces ignored.

    >>> spelling("  Deep_Scratch ") == spelling("deep - scratch") == "deep scratch"
    True
    """
    return " ".join(label.replace("_", " ").replace("-", " ").casefold().split())


def standardise(labels: pd.DataFrame, mapping: Mapping[str, str]) -> pd.DataFrame:
    """A copy of ``labels`` with ``label`` mapped through ``mapping`` and spellings merged.

    Text labels only. Two labels are the same spelling when they differ only in letter
    case (``casefold``), leading or trailing whitespace, whitespace runs (one space) and
    ``_`` or ``-`` (read as spaces): see :func:`spelling`. A mapping key matches every
    spelling of itself; values it does not name are kept. Then each group of spellings
    becomes its most frequent spelling (after mapping; a tie goes to the first in sorted
    order).

    >>> frame = pd.DataFrame({"label": ["deep scratch", "Scratch ", "scratch", "dent"]})
    >>> standardise(frame, {"Deep_Scratch": "scratch"})["label"].tolist()
    ['scratch', 'scratch', 'scratch', 'dent']
    """
    _require(labels, ("label",))
    targets: dict[str, str] = {}
    for source, target in mapping.items():
        if targets.setdefault(spelling(source), target) != target:
            raise ConfigError(
                f"label mapping: '{source}' is another spelling of a label already mapped "
                f"to '{targets[spelling(source)]}', not '{target}'; map each label once"
            )
    frequency = labels["label"].value_counts()
    mapped = {
        value: targets.get(spelling(value), value)
        for value in frequency.index
        if isinstance(value, str)
    }
    spellings: dict[str, dict[str, int]] = {}
    for value, target in sorted(mapped.items()):
        group = spellings.setdefault(spelling(target), {})
        group[target] = group.get(target, 0) + int(frequency[value])
    canonical = {key: min(group, key=lambda s: (-group[s], s)) for key, group in spellings.items()}
    final = {value: canonical[spelling(target)] for value, target in mapped.items()}
    frame = labels.copy()
    frame["label"] = labels["label"].map(lambda value: final.get(value, value))
    return frame


@dataclass(frozen=True)
class LabelReport:
    """What :func:`label_report` found; every field is plain JSON (see ``to_dict``)."""

    counts: Json  # examples, labelers, labels, labels_per_example {min, mean, max}, classes
    agreement: Json  # raw, cohen_kappa, fleiss_kappa, krippendorff_alpha: {value, note}
    confused_pairs: list[Json]  # {classes: [a, b], coincidences, share, examples}, most first
    classes: list[Json]  # {class, labels, specific_agreement}
    labelers: list[Json]  # {labeler, labels, consensus_*, truth_*, hlp}
    disputed: list[Json]  # {example, disagreement, majority, labels, by_labeler}
    consensus: list[Json]  # {example, label, votes, labels, tie[, dawid_skene, ...]}
    hlp: Json  # {value, labels, against, against_truth, against_consensus, slices}
    dawid_skene: Json | None = None  # {iterations, converged, priors, confusion}
    by_instructions: dict[str, Json] = field(default_factory=dict)  # version: agreement

    def to_dict(self) -> Json:
        """The report as nested dicts and lists of str, int, float, bool and None."""
        return dataclasses.asdict(self)

    def write_consensus(self, path: Path) -> int:
        """Write the consensus label of every example to a CSV or Parquet file (by its
        name); the number of examples written."""
        if not path.name.lower().endswith((".csv", ".parquet")):
            raise DataError(
                f"--output '{path}' must end in .csv or .parquet; the format follows the name"
            )
        frame = pd.DataFrame(self.consensus)
        if path.name.lower().endswith(".csv"):
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)
        return len(frame)


def label_report(
    labels: pd.DataFrame,
    *,
    truth: pd.Series | None = None,
    slices: pd.DataFrame | None = None,
    level: Level = "nominal",
    disputed: int = 20,
    dawid_skene: bool = False,
) -> LabelReport:
    """Agreement, confusion, labelers, disputed examples, consensus and HLP of ``labels``.

    ``truth`` gives a true label per example id (its index), and ``slices`` a value of
    each of its columns (such as the data's metadata) per example id: HLP is measured on
    each value of each column, named ``column=value``; either may cover only some
    examples. ``level`` is Krippendorff's alpha's level
    of measurement (ordinal and interval need numeric labels); ``disputed`` how many of the
    most disputed examples to list; ``dawid_skene`` adds the Dawid-Skene estimate of each
    example's label and each labeler's confusion matrix.
    """
    check_level(level)
    frame, missing = _checked(labels)
    latest = _latest(frame)
    coded = _Coded.of(latest)
    counts = coded.table()
    per_example = counts.sum(axis=1)
    truth_code, has_truth = _truth(truth, coded)
    report = _Labels(coded, counts, truth_code, has_truth)
    ds = _dawid_skene(coded, counts) if dawid_skene else None
    return LabelReport(
        counts={
            "examples": len(coded.examples),
            "labelers": len(coded.labelers),
            "labels": len(coded.label),
            "labels_per_example": {
                "min": int(per_example.min()),
                "mean": float(per_example.mean()),
                "max": int(per_example.max()),
            },
            "classes": [_plain(c) for c in coded.classes],
            "replaced": len(frame) - len(latest),
            "missing_labels": missing,
            "examples_with_truth": int(has_truth.sum()),
        },
        agreement=_agreement(coded, counts, level),
        confused_pairs=report.confused_pairs(),
        classes=report.classes(),
        labelers=report.labelers(),
        disputed=report.disputed(disputed),
        consensus=report.consensus(ds),
        hlp=report.hlp(slices),
        dawid_skene=None if ds is None else ds.to_dict(coded),
        by_instructions=_by_instructions(frame, level),
    )


@dataclass(frozen=True, eq=False)
class _Coded:
    """The labels as integer codes: one entry per label, indices into the sorted names."""

    example: np.ndarray
    labeler: np.ndarray
    label: np.ndarray
    examples: pd.Index
    labelers: pd.Index
    classes: pd.Index

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Coded:
        example, examples = pd.factorize(frame["example"], sort=True)
        labeler, labelers = pd.factorize(frame["labeler"], sort=True)
        label, classes = pd.factorize(frame["label"], sort=True)
        return cls(
            np.asarray(example, dtype=np.int64),
            np.asarray(labeler, dtype=np.int64),
            np.asarray(label, dtype=np.int64),
            pd.Index(examples),
            pd.Index(labelers),
            pd.Index(classes),
        )

    def table(self) -> np.ndarray:
        """(examples x classes) counts of labels."""
        k = len(self.classes)
        cells = np.bincount(self.example * k + self.label, minlength=len(self.examples) * k)
        return cells.reshape(len(self.examples), k)


def _require(labels: pd.DataFrame, columns: tuple[str, ...]) -> None:
    present = [str(c) for c in labels.columns]
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataError(
            f"the labels have no column {', '.join(repr(c) for c in missing)}; columns are: "
            f"{listing(present)}{did_you_mean(missing[0], present)}"
        )


def _checked(labels: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows that hold a label, labels of whole numbers as int; and how many held none."""
    _require(labels, REQUIRED)
    for column in ("example", "labeler"):
        if labels[column].isna().any():
            row = labels.index[labels[column].isna()][0]
            raise DataError(f"row {row} of the labels has no {column}; every label needs one")
    frame = labels[labels["label"].notna()]
    if frame.empty:
        raise DataError(f"the labels hold no label: all {len(labels)} rows are empty")
    values = frame["label"]
    if pd.api.types.is_float_dtype(values) and (values == values.round()).all():
        frame = frame.assign(label=values.astype(np.int64))
    return frame, len(labels) - len(frame)


def _latest(frame: pd.DataFrame) -> pd.DataFrame:
    """One label per (example, labeler): the latest by ``time``, else the last row."""
    if "time" in frame.columns:
        frame = frame.sort_values("time", kind="stable", na_position="first")
    return frame.drop_duplicates(["example", "labeler"], keep="last")


def _truth(truth: pd.Series | None, coded: _Coded) -> tuple[np.ndarray, np.ndarray]:
    """Per example: the true label's class code (-1 when not a class) and whether known."""
    if truth is None:
        return np.full(len(coded.examples), -1), np.zeros(len(coded.examples), dtype=bool)
    aligned = _per_example(truth, "truth", coded)
    return coded.classes.get_indexer(pd.Index(aligned)), aligned.notna().to_numpy()


def _per_example(series: pd.Series, name: str, coded: _Coded) -> pd.Series:
    if series.index.has_duplicates:
        twice = series.index[series.index.duplicated()][0]
        raise DataError(f"{name} gives example {twice!r} more than once; give one per example")
    return series.reindex(coded.examples)


def _agreement(coded: _Coded, counts: np.ndarray, level: Level) -> Json:
    """The four coefficients, each ``{"value": float or None, "note": why}``."""
    per_example = counts.sum(axis=1)  # every example has a label
    pairs = int((per_example * (per_example - 1)).sum()) // 2
    low, high = int(per_example.min()), int(per_example.max())
    paired = int((per_example >= 2).sum())
    return {
        "raw": _coefficient(
            lambda: pair_agreement(counts),
            f"the share of agreeing pairs among the {pairs} pairs of labels on one example",
        ),
        "cohen_kappa": _cohen(coded),
        "fleiss_kappa": _coefficient(
            lambda: fleiss_kappa(counts),
            f"every example has {low} labels",
        )
        if low == high >= 2
        else {
            "value": None,
            "note": f"examples have {low} to {high} labels; Fleiss' kappa needs the same "
            "number, two or more, on every example",
        },
        "krippendorff_alpha": _alpha(coincidences(counts), coded.classes, level, paired),
    }


def _coefficient(compute: Callable[[], float], note: str) -> Json:
    try:
        return {"value": compute(), "note": note}
    except DataError as error:  # undefined for these labels: the error says why
        return {"value": None, "note": str(error)}


def _cohen(coded: _Coded) -> Json:
    if len(coded.labelers) != 2:
        return {
            "value": None,
            "note": f"Cohen's kappa is for two labelers; there are {len(coded.labelers)}",
        }
    given = np.full((2, len(coded.examples)), -1)
    given[coded.labeler, coded.example] = coded.label
    both = (given >= 0).all(axis=0)
    first, second = (str(n) for n in coded.labelers)
    return _coefficient(
        lambda: cohen_kappa(given[0, both], given[1, both]),
        f"on the {int(both.sum())} examples both {first} and {second} labeled",
    )


def _alpha(matrix: np.ndarray, classes: pd.Index, level: Level, paired: int) -> Json:
    numeric = pd.api.types.is_numeric_dtype(classes) and not pd.api.types.is_bool_dtype(classes)
    if level != "nominal" and not numeric:
        return {
            "value": None,
            "note": f"the {level} level needs numeric labels; labels include '{classes[0]}'",
        }
    values = classes.to_numpy(dtype=np.float64) if numeric else np.arange(len(classes))
    return _coefficient(
        lambda: alpha_from_coincidences(matrix, values, level),
        f"{level} level, over the {paired} examples with two or more labels",
    )


@dataclass(frozen=True, eq=False)
class _Labels:
    """The sections of the report that look at single examples, classes and labelers."""

    coded: _Coded
    counts: np.ndarray
    truth_code: np.ndarray  # per example
    has_truth: np.ndarray  # per example

    def confused_pairs(self) -> list[Json]:
        matrix = self._matrix
        present = (self.counts > 0).astype(np.int64)
        together = present.T @ present
        a, b = np.triu_indices(len(matrix), k=1)
        mass = matrix[a, b] + matrix[b, a]
        total = mass.sum()
        order = np.lexsort((b, a, -together[a, b], -mass))
        return [
            {
                "classes": [self._class(a[i]), self._class(b[i])],
                "coincidences": float(mass[i]),
                "share": float(mass[i] / total),
                "examples": int(together[a[i], b[i]]),
            }
            for i in order
            if mass[i] > 0
        ]

    def classes(self) -> list[Json]:
        matrix = self._matrix
        marginals = matrix.sum(axis=1)
        return [
            {
                "class": self._class(c),
                "labels": int(given),
                "specific_agreement": float(matrix[c, c] / marginals[c]) if marginals[c] else None,
            }
            for c, given in enumerate(self.counts.sum(axis=0))
        ]

    def labelers(self) -> list[Json]:
        coded, hits = self.coded, self._hits
        given = np.bincount(coded.labeler, minlength=len(coded.labelers))
        consensus = _shares(coded.labeler, len(coded.labelers), hits["consensus"], hits["others"])
        truth = _shares(coded.labeler, len(coded.labelers), hits["truth"], hits["known"])
        hlp = self._hlp(coded.labeler, len(coded.labelers))
        return [
            {
                "labeler": str(name),
                "labels": int(given[j]),
                "consensus_agreement": consensus[j][0],
                "consensus_labels": consensus[j][1],
                "truth_accuracy": truth[j][0],
                "truth_labels": truth[j][1],
                "hlp": hlp[j],
            }
            for j, name in enumerate(coded.labelers)
        ]

    def hlp(self, slices: pd.DataFrame | None) -> Json:
        overall = self._hlp(np.zeros_like(self.coded.example), 1)[0]
        found: list[Json] = []
        columns = {} if slices is None else {c: slices[c] for c in slices.columns}
        for column, values in columns.items():
            aligned = _per_example(values, "slices", self.coded)
            codes, names = pd.factorize(aligned, sort=True)
            rows = self._hlp(np.asarray(codes)[self.coded.example], len(names))
            found += [
                {"slice": f"{column}={n}", "column": str(column), **r}
                for n, r in zip(names, rows, strict=True)
            ]
        return {**overall, "slices": found}

    def disputed(self, limit: int) -> list[Json]:
        coded, counts = self.coded, self.counts
        per_example = counts.sum(axis=1)
        disagreement = 1 - counts.max(axis=1) / per_example
        order = np.lexsort((np.arange(len(counts)), -per_example, -disagreement))
        rows = []
        for e in order[: max(limit, 0)]:
            if disagreement[e] == 0:
                break
            mine = coded.example == e
            given = sorted(range(len(coded.classes)), key=lambda c: (-counts[e, c], c))
            rows.append(
                {
                    "example": _plain(coded.examples[e]),
                    "disagreement": float(disagreement[e]),
                    "majority": self._class(given[0]),
                    "labels": {self._class(c): int(counts[e, c]) for c in given if counts[e, c]},
                    "by_labeler": {
                        str(coded.labelers[j]): self._class(c)
                        for j, c in sorted(zip(coded.labeler[mine], coded.label[mine], strict=True))
                    },
                }
            )
        return rows

    def consensus(self, ds: _DawidSkene | None) -> list[Json]:
        counts, names = self.counts, self._names
        top = counts.max(axis=1)
        columns = {
            "example": [_plain(e) for e in self.coded.examples.tolist()],
            "label": [names[c] for c in counts.argmax(axis=1)],  # the first of a tie
            "votes": top.tolist(),
            "labels": counts.sum(axis=1).tolist(),
            "tie": ((counts == top[:, None]).sum(axis=1) > 1).tolist(),
        }
        if ds is not None:
            columns["dawid_skene"] = [names[c] for c in ds.posterior.argmax(axis=1)]
            columns["dawid_skene_probability"] = ds.posterior.max(axis=1).tolist()
        return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]

    @cached_property
    def _names(self) -> list[Any]:
        return [_plain(c) for c in self.coded.classes.tolist()]

    def _class(self, code: int | np.integer[Any]) -> Any:
        return self._names[int(code)]

    @cached_property
    def _matrix(self) -> np.ndarray:
        return coincidences(self.counts)

    @cached_property
    def _hits(self) -> dict[str, np.ndarray]:
        """Per label: whether truth / the others' consensus is known, and whether it agrees."""
        coded = self.coded
        others = self.counts[coded.example]
        others[np.arange(len(coded.label)), coded.label] -= 1
        top = others.max(axis=1)
        has_consensus = (top > 0) & ((others == top[:, None]).sum(axis=1) == 1)
        known = self.has_truth[coded.example]
        return {
            "others": has_consensus,
            "consensus": has_consensus & (others.argmax(axis=1) == coded.label),
            "known": known,
            "truth": known & (self.truth_code[coded.example] == coded.label),
        }

    def _hlp(self, group: np.ndarray, n_groups: int) -> list[Json]:
        """HLP of the labels in each group (-1: in none): against truth, else consensus."""
        hits = self._hits
        by_truth, by_consensus = hits["known"], hits["others"] & ~hits["known"]
        right = np.where(hits["known"], hits["truth"], hits["consensus"])
        keep = group >= 0

        def total(weights: np.ndarray) -> np.ndarray:
            return np.bincount(group[keep], weights=weights[keep], minlength=n_groups)

        truth, consensus, correct = total(by_truth), total(by_consensus), total(right)
        rows = []
        for g in range(n_groups):
            measured = int(truth[g] + consensus[g])
            against = [n for n, c in (("truth", truth[g]), ("consensus", consensus[g])) if c]
            rows.append(
                {
                    "value": float(correct[g] / measured) if measured else None,
                    "labels": measured,
                    "against": " and ".join(against) or "nothing",
                    "against_truth": int(truth[g]),
                    "against_consensus": int(consensus[g]),
                }
            )
        return rows


def _shares(
    group: np.ndarray, n_groups: int, hits: np.ndarray, measured: np.ndarray
) -> list[tuple[float | None, int]]:
    right = np.bincount(group, weights=hits, minlength=n_groups)
    total = np.bincount(group, weights=measured, minlength=n_groups)
    return [(float(r / t) if t else None, int(t)) for r, t in zip(right, total, strict=True)]


@dataclass(frozen=True, eq=False)
class _DawidSkene:
    posterior: np.ndarray  # (examples x classes)
    priors: np.ndarray  # (classes,)
    confusion: np.ndarray  # (labelers x true class x given class)
    iterations: int
    converged: bool

    def to_dict(self, coded: _Coded) -> Json:
        names = [str(c) for c in coded.classes]
        return {
            "iterations": self.iterations,
            "converged": self.converged,
            "priors": dict(zip(names, map(float, self.priors), strict=True)),
            "confusion": {
                str(labeler): {
                    truth: dict(zip(names, map(float, row), strict=True))
                    for truth, row in zip(names, matrix, strict=True)
                }
                for labeler, matrix in zip(coded.labelers, self.confusion, strict=True)
            },
        }


def _dawid_skene(
    coded: _Coded, counts: np.ndarray, tolerance: float = 1e-6, max_iterations: int = 200
) -> _DawidSkene:
    """Dawid and Skene's (1979) EM estimate, started from the majority vote.

    The start gives each example its majority label, a tie shared evenly; EM stops when
    no posterior moves by more than ``tolerance``, or after ``max_iterations``.
    """
    n_labelers, k = len(coded.labelers), len(coded.classes)
    posterior = (counts == counts.max(axis=1, keepdims=True)).astype(np.float64)
    posterior /= posterior.sum(axis=1, keepdims=True)
    pairs = coded.labeler * k + coded.label  # each label's (labeler, given class)
    converged, iteration = False, 0
    while not converged and iteration < max_iterations:
        iteration += 1
        priors = (posterior.sum(axis=0) + SMOOTHING) / (len(posterior) + k * SMOOTHING)
        # (labeler, given, true class) sums of the posteriors, then true class x given
        given = SMOOTHING + _sum_by(pairs, posterior[coded.example], n_labelers * k)
        confusion = given.reshape(n_labelers, k, k).transpose(0, 2, 1)
        confusion = confusion / confusion.sum(axis=2, keepdims=True)
        surprise = np.log(confusion.transpose(0, 2, 1).reshape(-1, k))[pairs]
        log = np.log(priors) + _sum_by(coded.example, surprise, len(posterior))
        updated = np.exp(log - log.max(axis=1, keepdims=True))
        updated /= updated.sum(axis=1, keepdims=True)
        converged = bool(np.abs(updated - posterior).max() < tolerance)
        posterior = updated
    return _DawidSkene(posterior, priors, confusion, iteration, converged)


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """(size x columns) sums of the rows of ``values`` that share an ``index``."""
    columns = [np.bincount(index, weights=column, minlength=size) for column in values.T]
    return np.stack(columns, axis=1)


def _by_instructions(frame: pd.DataFrame, level: Level) -> dict[str, Json]:
    """Agreement under each version of the instructions, in order of first use."""
    if "instructions" not in frame.columns:
        return {}
    if "time" in frame.columns:
        frame = frame.sort_values("time", kind="stable", na_position="first")
    sections = {}
    for version, rows in frame.groupby("instructions", sort=False, dropna=False):
        coded = _Coded.of(_latest(rows))
        sections[str(version)] = {
            "labels": len(coded.label),
            "examples": len(coded.examples),
            "labelers": len(coded.labelers),
            "agreement": _agreement(coded, coded.table(), level),
        }
    return sections


def _plain(value: Any) -> Any:
    """A numpy or pandas scalar as the Python value JSON writes."""
    value = value.item() if isinstance(value, np.generic) else value
    return value if isinstance(value, str | int | float | bool) else str(value)
