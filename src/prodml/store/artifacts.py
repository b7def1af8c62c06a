"""Artifacts: files a run produces, kept under a folder or any fsspec URL.

Each file is written whole under a temporary name and then moved into place, so a reader
never sees half of it; its SHA-256 goes into the store, and :meth:`ArtifactStore.load`
refuses a file whose content no longer matches. scikit-learn objects are saved with
skops, which loads only the types recorded when the file was written: no pickle.

>>> import tempfile, numpy as np
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> saved = store.save("run1", "split", np.array([0, 2, 1], dtype=np.int8))
>>> saved.format, store.load(saved).tolist()
('npy', [0, 2, 1])
>>> store.load(store.save("run1", "profile", {"rows": 3}))
{'rows': 3}
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec
import numpy as np
import skops.io as sio

from prodml.errors import IntegrityError, StoreError

#: Bumped when the way artifacts are written changes; older files then need a converter.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SavedArtifact:
    """Where an artifact lives and what its content must hash to."""

    name: str
    uri: str
    sha256: str
    size_bytes: int
    format: str
    format_version: int
    trusted: tuple[str, ...] = ()


class ArtifactStore:
    """A folder (or fsspec URL) with one sub-folder per run."""

    def __init__(self, root: str) -> None:
        self.fs, self.root = fsspec.core.url_to_fs(root)
        self.url = root

    def save(self, run_id: str, name: str, obj: Any) -> SavedArtifact:
        """Write ``obj`` (a numpy array, a JSON-ready dict, or anything skops can save)."""
        if isinstance(obj, dict):
            data, fmt, trusted = json.dumps(obj, allow_nan=False).encode(), "json", ()
        elif isinstance(obj, np.ndarray):
            buffer = io.BytesIO()
            np.save(buffer, obj, allow_pickle=False)
            data, fmt, trusted = buffer.getvalue(), "npy", ()
        else:
            data, fmt = sio.dumps(obj), "skops"
            trusted = tuple(sio.get_untrusted_types(data=data))
        path = f"{self.root}/{run_id}/{name}.{fmt}"
        self._write_whole(path, data)
        return SavedArtifact(
            name=name,
            uri=self.fs.unstrip_protocol(path),
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            format=fmt,
            format_version=FORMAT_VERSION,
            trusted=trusted,
        )

    def load(self, artifact: SavedArtifact) -> Any:
        """Read an artifact back, after checking its SHA-256 against the record."""
        if artifact.format_version > FORMAT_VERSION:
            raise StoreError(
                f"artifact {artifact.name} has format version {artifact.format_version}, "
                f"newer than this prodml reads ({FORMAT_VERSION}); upgrade prodml"
            )
        fs, path = fsspec.core.url_to_fs(artifact.uri)
        try:
            data = fs.cat_file(path)
        except FileNotFoundError:
            raise StoreError(
                f"artifact {artifact.name} is missing at {artifact.uri}; restore the file, "
                "or fit the model again"
            ) from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != artifact.sha256:
            raise IntegrityError(
                f"artifact {artifact.uri} was changed after it was saved: its SHA-256 is "
                f"{digest[:12]}..., the store recorded {artifact.sha256[:12]}...; refusing to "
                "load it. Restore the original file or fit the model again"
            )
        if artifact.format == "npy":
            return np.load(io.BytesIO(data), allow_pickle=False)
        if artifact.format == "json":
            return json.loads(data)
        if artifact.format == "skops":
            return sio.loads(data, trusted=list(artifact.trusted))
        raise StoreError(f"artifact {artifact.name} has unknown format '{artifact.format}'")

    def remove_run(self, run_id: str) -> None:
        """Delete every file of a run (used for runs that died before finishing)."""
        path = f"{self.root}/{run_id}"
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def _write_whole(self, path: str, data: bytes) -> None:
        folder = path.rsplit("/", 1)[0]
        temporary = f"{folder}/.{uuid.uuid4().hex}.partial"
        try:
            self.fs.makedirs(folder, exist_ok=True)
            with self.fs.open(temporary, "wb") as handle:
                handle.write(data)
                _sync(handle)
            self.fs.mv(temporary, path)
        except OSError as exc:
            raise StoreError(f"cannot write artifact {path}: {exc}") from None
        finally:
            if self.fs.exists(temporary):
                self.fs.rm(temporary)


def _sync(handle: Any) -> None:
    """Flush a local file to disk before it is renamed into place."""
    handle.flush()
    fileno = getattr(handle, "fileno", None)
    if fileno is not None:
        with contextlib.suppress(OSError, io.UnsupportedOperation):
            os.fsync(fileno())
