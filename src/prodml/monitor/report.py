"""The monitoring report of one endpoint, as JSON-ready data: every window with its
metrics, every drift score (the time series), alerts, change points, and each feature's
distribution in the reference and in the newest window, side by side.

:func:`prodml.monitor.html.render` turns it into one offline HTML page.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

from prodml.data.profile import CategoricalProfile, NumericProfile, Profile
from prodml.monitor.window import inputs_frame
from prodml.store.monitoring import Monitoring, record
from prodml.store.runs import utc_now

#: Bins of a numeric feature's histogram; categories shown of a categorical one.
BINS, CATEGORIES = 12, 12


def monitor_report(
    store: Monitoring, endpoint: str, reference: Any | None = None
) -> dict[str, Any]:
    """The report of ``endpoint`` (``reference``: the newest window's model's
    :class:`~prodml.monitor.scoring.Reference`, for the distributions)."""
    windows = store.windows(endpoint)
    alerts = store.alerts(endpoint)  # fired and resolved ones too: the history
    points = store.change_points(endpoint)
    requests = store.request_ids([i for c in points for i in (c.started_id, c.detected_id)])
    fired: dict[int, list[str]] = {}
    for alert in reversed(alerts):  # oldest first
        fired.setdefault(alert.window_id, []).append(alert.rule)
    found: dict[str, Any] = {
        "endpoint": endpoint,
        "generated_at": utc_now().isoformat(),
        "windows": [
            {
                "id": w.id,
                "model": f"{w.model_name}:{w.model_version}",
                "starts_at": w.starts_at.isoformat(),
                "ends_at": w.ends_at.isoformat(),
                "first_id": w.first_id,
                "last_id": w.last_id,
                "rows": w.rows,
                "alerts": fired.get(w.id, []),
                "metrics": w.metrics,
            }
            for w in windows
        ],
        "scores": [record(s) for s in store.scores(endpoint)],
        "alerts": [record(a) for a in alerts],
        # each change named by the request ids (a batch's: its data.id) of the predictions
        # it began and was found at, as well as by their log ids and times
        "change_points": [
            {
                **record(c),
                "started_request": requests.get(c.started_id),
                "detected_request": requests.get(c.detected_id),
            }
            for c in points
        ],
        "distributions": {},
    }
    if windows and reference is not None and reference.profile is not None:
        newest = windows[-1]
        read = store.logged(endpoint, after_id=newest.first_id - 1)
        rows = [  # its model's: another's rows may lie between them
            r
            for r in itertools.takewhile(lambda r: r.id <= newest.last_id, read)
            if r.model == newest.model
        ]
        found["distributions"] = distributions(
            reference.profile, inputs_frame(rows, reference.schema)
        )
    return found


def distributions(profile: Profile, frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Each profiled feature of ``frame`` as shares of bins (numeric) or of categories, in
    the reference profile and in ``frame``."""
    found: dict[str, dict[str, Any]] = {}
    for name, column in profile.columns.items():
        if name not in frame:
            continue
        if isinstance(column, NumericProfile):
            found[name] = _histogram(column, frame[name])
        elif isinstance(column, CategoricalProfile):
            found[name] = _categories(column, frame[name])
    return found


def _histogram(column: NumericProfile, values: pd.Series) -> dict[str, Any]:
    if column.kind == "datetime":
        values = pd.to_datetime(values, utc=True)
        values = values.astype("int64").where(values.notna()) / 1e9
    reference = column.sample[~np.isnan(column.sample)]
    current = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)
    both = np.concatenate([reference, current])
    if both.size == 0:
        return {"kind": "numeric", "edges": [], "reference": [], "current": []}
    edges = np.histogram_bin_edges(both, bins=BINS)
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "reference": _shares(np.histogram(reference, edges)[0]),
        "current": _shares(np.histogram(current, edges)[0]),
    }


def _categories(column: CategoricalProfile, values: pd.Series) -> dict[str, Any]:
    current = values.dropna().astype(str).value_counts()
    reference = pd.Series(column.counts, dtype=float)
    shown = list(reference.sort_values(ascending=False).index[:CATEGORIES])
    shown += [c for c in current.index if c not in shown][: max(0, CATEGORIES - len(shown))]
    return {
        "kind": "categorical",
        "categories": shown,
        "reference": _shares(np.array([reference.get(c, 0.0) for c in shown]), reference.sum()),
        "current": _shares(np.array([current.get(c, 0) for c in shown]), current.sum()),
    }


def _shares(counts: np.ndarray, total: float | None = None) -> list[float]:
    whole = float(counts.sum() if total is None else total)
    return [float(c) / whole if whole else 0.0 for c in counts]
