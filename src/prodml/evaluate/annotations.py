"""Files that say something about examples by id: tags, golden examples, human labels.

Each is a CSV or Parquet file with an id column (named like ``data.id``, or ``id``):

- tags: ``id,tags`` with tags separated by spaces or semicolons (``car_noise;blurry``);
  an id may also come back on several rows, one tag each;
- golden examples: ``id`` and optionally ``label`` (the right answer; default: the target);
- human labels: ``id,label``, one label per example, given by a person.

>>> frame = pd.DataFrame({"id": [1, 2, 3]})
>>> tagged = pd.DataFrame({"id": [1, 3, 3], "tags": ["a", "a;b", "c"]})
>>> {tag: mask.tolist() for tag, mask in tag_masks(tagged, frame, "id").items()}
{'a': [True, False, True], 'b': [False, False, True], 'c': [False, False, True]}
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from prodml.data.sources import FileSource
from prodml.errors import DataError, did_you_mean, listing

ID_FALLBACK = "id"
_TAG_SEPARATOR = re.compile(r"[;\s]+")


def read_annotations(file: str, key: str, root: Path, id_column: str | None) -> pd.DataFrame:
    """Read an annotation file named by ``key`` in the project file, checking its id column."""
    frame = FileSource(root / file, file, key).load()
    column = _id_in(frame, id_column, key, file)
    return frame.rename(columns={column: ID_FALLBACK})


def tag_masks(tags: pd.DataFrame, frame: pd.DataFrame, id_column: str) -> dict[str, np.ndarray]:
    """A boolean mask over ``frame``'s rows for each tag of the tags file."""
    if "tags" not in tags.columns:
        raise DataError(
            f"the tags file needs a 'tags' column (tags separated by spaces or ';'); "
            f"it has: {listing(map(str, tags.columns))}"
        )
    pairs = tags.assign(tag=tags["tags"].fillna("").astype(str).str.split(_TAG_SEPARATOR))
    pairs = pairs.explode("tag")
    pairs = pairs[pairs["tag"] != ""]
    where = positions(pairs[ID_FALLBACK], frame[id_column])
    masks = {}
    for tag in sorted(pairs["tag"].unique()):
        mask = np.zeros(len(frame), dtype=bool)
        chosen = where[(pairs["tag"] == tag).to_numpy()]
        mask[chosen[chosen >= 0]] = True
        masks[str(tag)] = mask
    return masks


def positions(ids: pd.Series, frame_ids: pd.Series) -> np.ndarray:
    """Where each id sits in ``frame_ids`` (-1 when absent); ids compare as text."""
    index = pd.Index(frame_ids.astype(str))
    if not index.is_unique:
        raise DataError(
            f"data.id '{frame_ids.name}' has repeated values, so examples cannot be found "
            "by id; make the id column unique"
        )
    return np.asarray(index.get_indexer(pd.Index(ids.astype(str))), dtype=np.int64)


def _id_in(frame: pd.DataFrame, id_column: str | None, key: str, file: str) -> str:
    columns = [str(c) for c in frame.columns]
    for candidate in (id_column, ID_FALLBACK):
        if candidate in columns:
            return candidate
    wanted = id_column or ID_FALLBACK
    raise DataError(
        f"{key} '{file}' has no id column '{wanted}'; its columns are: "
        f"{listing(columns)}{did_you_mean(wanted, columns)}"
    )
