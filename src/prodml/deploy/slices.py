"""A comparison slice by slice: the requests of a trial cut as ``prodml evaluate`` cuts its
rows (``evaluate.slices``; by default the ``data.metadata`` columns), each slice with its
counts, and "insufficient evidence" under evaluate's ``min_count``.

For a shadow a slice holds pairs (one request, both answers): their agreement with its
Wilson interval, and each side's accuracy on the labelled ones. For a canary it holds each
side's own answers: how many, and each side's accuracy on its labelled ones.

The prediction log holds what the model was given and the ``data.metadata`` fields (never
features) the requests carried beside it (:mod:`prodml.serve.metadata`); a slice over a
column the logged rows lack (metadata no request sent) cannot be cut from it, and the
reason is kept instead, in ``unsliced``.

>>> frame = pd.DataFrame({"region": ["north", "north", "south"]})
>>> both = {"primary": np.ones(3), "candidate": np.ones(3)}
>>> right = {"primary": np.array([1.0, np.nan, 0.0]), "candidate": np.array([1.0, np.nan, 1.0])}
>>> found, unsliced = by_slice(["region", "gender"], frame, both, right, np.ones(3), 2)
>>> [(s.name, s.agreement, s.sufficient) for s in found]
[('region=north', 1.0, True), ('region=south', 1.0, False)]
>>> unsliced  # doctest: +ELLIPSIS
["evaluate.slices: 'gender' is not a column of the data; columns are: region"]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prodml.config import SliceSpec
from prodml.errors import ProdmlError
from prodml.evaluate.slices import Slicing, slicings, wilson

#: The sides of a comparison, as its results name them.
SIDES = ("primary", "candidate")


@dataclass(frozen=True)
class Slice:
    """One slice of a comparison. ``rows``, ``labelled`` and ``accuracy`` are per side;
    ``agreement`` (a shadow's) is the share of its pairs answered alike. ``sufficient``:
    measured on at least ``min_count`` pairs (a shadow) or labelled answers a side (a
    canary)."""

    name: str
    family: str
    rows: dict[str, int]
    labelled: dict[str, int]
    accuracy: dict[str, float | None]
    agreement: float | None
    interval: tuple[float, float] | None
    sufficient: bool


def by_slice(
    specs: Sequence[SliceSpec],
    inputs: pd.DataFrame,
    answered: Mapping[str, np.ndarray],
    right: Mapping[str, np.ndarray],
    same: np.ndarray | None,
    min_count: int,
) -> tuple[list[Slice], list[str]]:
    """The slices of ``specs`` over the rows of ``inputs``, and why the specs that cannot
    be cut were not.

    Per side, a value a row: ``answered`` 1 where that side answered the row; ``right`` 1
    or 0 where its answer was labelled. ``same`` (pairs only, else None) is 1 where the
    two answers agree. Nan stands for no.
    """
    found: list[Slice] = []
    unsliced: list[str] = []
    for spec in specs if len(inputs) else ():
        try:
            cuts = slicings([spec], inputs)
        except ProdmlError as error:
            unsliced.append(str(error))
            continue
        for cut in cuts:
            found += _scored(cut, answered, right, same, min_count)
    return found, unsliced


def _scored(
    cut: Slicing,
    answered: Mapping[str, np.ndarray],
    right: Mapping[str, np.ndarray],
    same: np.ndarray | None,
    min_count: int,
) -> list[Slice]:
    rows = {side: _tally(cut, answered[side])[0] for side in SIDES}
    labelled, correct = {}, {}
    for side in SIDES:
        labelled[side], correct[side] = _tally(cut, right[side])
    pairs, agreeing = _tally(cut, np.full(cut.codes.shape, np.nan) if same is None else same)
    low, high = wilson(agreeing, pairs)
    found = []
    for g, name in enumerate(cut.names):
        measured = min(labelled[side][g] for side in SIDES) if same is None else pairs[g]
        found.append(
            Slice(
                name,
                cut.family,
                {side: int(n[g]) for side, n in rows.items()},
                {side: int(n[g]) for side, n in labelled.items()},
                {side: share(correct[side][g], labelled[side][g]) for side in SIDES},
                share(agreeing[g], pairs[g]),
                (float(low[g]), float(high[g])) if pairs[g] else None,
                bool(measured >= min_count),
            )
        )
    return found


def share(part: float, whole: float) -> float | None:
    """``part / whole`` as a float; None when ``whole`` is 0.

    >>> share(3, 4), share(0, 0)
    (0.75, None)
    """
    return float(part / whole) if whole else None


def _tally(cut: Slicing, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per slice: how many rows have a value (not nan), and the sum of those values."""
    keep = (cut.codes >= 0) & ~np.isnan(values)
    groups = len(cut.names)
    codes = cut.codes[keep]
    return (
        np.bincount(codes, minlength=groups),
        np.bincount(codes, weights=values[keep], minlength=groups),
    )
