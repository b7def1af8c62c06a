"""A data set as a project sees it: the frame, and which column plays which part.

:func:`prepare` checks the columns the project file names against the data, with a
did-you-mean for near misses, and turns text feature columns into categories so that
models with native categorical support (HistGradientBoosting, LightGBM) use them.

>>> import pandas as pd
>>> from prodml.config import DataSettings
>>> frame = pd.DataFrame({"income": [1.0, 2.0], "region": ["n", "s"], "approved": [0, 1]})
>>> data = prepare(frame, DataSettings(source="x.csv", target="approved",
...                metadata=("region",)), "classification", "x.csv")
>>> data.features, data.labels
(('income',), (0, 1))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from prodml.config import DataSettings, Task
from prodml.data.fingerprint import fingerprint
from prodml.errors import DataError, did_you_mean, listing


@dataclass(frozen=True)
class Dataset:
    """A loaded data set with its roles resolved."""

    frame: pd.DataFrame
    source: str
    task: Task
    target: str
    features: tuple[str, ...]
    metadata: tuple[str, ...]
    labels: tuple[Any, ...]
    positive_class: Any
    fingerprint: str

    @property
    def X(self) -> pd.DataFrame:
        return self.frame.loc[:, list(self.features)]

    @property
    def y(self) -> np.ndarray:
        return self.frame[self.target].to_numpy()

    def rows(self, positions: np.ndarray) -> Dataset:
        """The same data set restricted to some rows (e.g. a split)."""
        return replace(self, frame=self.frame.iloc[positions].reset_index(drop=True))


def prepare(
    frame: pd.DataFrame, settings: DataSettings, task: Task, source: str, step: str = "fitting"
) -> Dataset:
    """Check the project's column names against ``frame`` and resolve the roles; ``step``
    is what the data are for, as a message names it ("fitting", "evaluating").

    Rows without a target are an error, or left out with ``data.missing_target: drop``.
    """
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)

    def require(key: str, name: str) -> None:
        if name not in columns:
            raise DataError(
                f"{key} '{name}' is not a column of {source}; columns are: "
                f"{listing(columns)}{did_you_mean(name, columns)}"
            )

    require("data.target", settings.target)
    for name in settings.metadata:
        require("data.metadata", name)
    for key, optional in (("data.id", settings.id), ("data.time", settings.time)):
        if optional is not None:
            require(key, optional)
    reserved = {settings.target, *settings.metadata, settings.id, settings.time}
    if settings.features is not None:
        for name in settings.features:
            require("data.features", name)
            if name in reserved:
                raise DataError(
                    f"data.features '{name}' is also the target, id, time or a metadata "
                    "column; those are never features: remove it from data.features"
                )
        features = tuple(settings.features)
    else:
        features = tuple(c for c in columns if c not in reserved)
    if not features:
        raise DataError(
            f"{source} has no feature columns left after the target, id, time and metadata; "
            "check data.metadata and data.features"
        )
    if frame.empty:
        raise DataError(f"{source} has no rows, only a header; give data with rows to learn from")
    missing = frame[settings.target].isna().to_numpy()
    if missing.any() and settings.missing_target == "error":
        named = frame[settings.id] if settings.id is not None else frame.index.to_series()
        rows = named[missing]
        raise DataError(
            f"data.target '{settings.target}' is missing in {len(rows):,} rows of {source} "
            f"({settings.id or 'rows'} {listing(map(str, rows), limit=5)}), and {step} needs "
            "a target on every "
            "row: label or remove those rows, or set data.missing_target: drop in "
            "prodml.yaml to leave them out"
        )
    if missing.any():
        frame = frame[~missing].reset_index(drop=True)
        if frame.empty:
            raise DataError(
                f"data.target '{settings.target}' is missing in every row of {source}, so "
                f"nothing is left for {step}; check data.target"
            )
    target = frame[settings.target]
    content = fingerprint(frame)
    frame = _categorical_text(frame, features)
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(target):
            raise DataError(
                f"task is regression but data.target '{settings.target}' is not numeric "
                f"(dtype {target.dtype}); set task: classification or choose a numeric target"
            )
        return Dataset(
            frame, source, task, settings.target, features, settings.metadata, (), None, content
        )
    labels = tuple(_plain(v) for v in np.sort(target.unique()))
    if len(labels) < 2:
        raise DataError(
            f"data.target '{settings.target}' has only one class ({listing(labels)}); "
            "a classifier needs at least two"
        )
    positive = _positive(settings.positive_class, labels, settings.target)
    return Dataset(
        frame,
        source,
        task,
        settings.target,
        features,
        settings.metadata,
        labels,
        positive,
        content,
    )


def _positive(configured: str | int | None, labels: tuple[Any, ...], target: str) -> Any:
    if configured is None:
        return labels[-1] if len(labels) == 2 else None
    for label in labels:
        if label == configured or str(label) == str(configured):
            return label
    raise DataError(
        f"data.positive_class '{configured}' is not a class of '{target}'; classes are: "
        f"{listing(labels)}{did_you_mean(configured, labels)}"
    )


def _categorical_text(frame: pd.DataFrame, features: tuple[str, ...]) -> pd.DataFrame:
    text = [c for c in features if _is_text(frame[c])]
    if not text:
        return frame
    return frame.assign(**{c: frame[c].astype("category") for c in text})


def _is_text(column: pd.Series) -> bool:
    return bool(
        pd.api.types.is_string_dtype(column) or pd.api.types.is_object_dtype(column)
    ) and not isinstance(column.dtype, pd.CategoricalDtype)


def _plain(value: Any) -> Any:
    """numpy scalars become Python ones, so labels print and serialise plainly."""
    return value.item() if isinstance(value, np.generic) else value
