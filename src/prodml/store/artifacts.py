"""Artifacts: files a run produces, kept under a folder or any fsspec URL.

Each file is written whole under a temporary name and then moved into place, so a reader
never sees half of it; its SHA-256 goes into the store, and :meth:`ArtifactStore.load`
refuses a file whose content no longer matches. scikit-learn objects are saved with
skops, which loads only the types recorded when the file was written: no pickle. A file
whose hash matches but whose content prodml did not write (a pickle, types not recorded)
is refused in one line saying what it holds.

In a local folder the store records each file relative to its root
(:meth:`ArtifactStore.recorded`), so a project folder can be moved or copied and read its
own files; other fsspec URLs are recorded whole. :meth:`ArtifactStore.resolved` turns
a record back into a URL, and re-roots the absolute paths older versions recorded when the
file is in this root too, so a copied old store does not read the original's files.

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
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
from fsspec.implementations.local import LocalFileSystem

from prodml.errors import IntegrityError, StoreError, listing

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
        try:
            self.fs, self.root = fsspec.core.url_to_fs(root)
        except (ValueError, ImportError) as exc:
            raise StoreError(
                f"store.artifacts '{root}' cannot be opened: {exc}. Give a local folder, "
                "or an fsspec URL whose package is installed (s3:// needs s3fs, gs:// gcsfs)"
            ) from None
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
            sio = _skops()
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
        try:
            return _decoded(artifact, data)
        except (zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError) as exc:
            found = _content(data)
            never = "; prodml never loads pickles" if "pickl" in found else ""
            raise StoreError(
                f"artifact {artifact.uri} is not {_FORMATS[artifact.format]} (it holds "
                f"{found}){never}. prodml did not write this file: restore the original, "
                "or fit the model again"
            ) from exc

    def recorded(self, uri: str) -> str:
        """What the store's table keeps for ``uri``: the path under the root when the root
        is a local folder (so the folder can move), else ``uri`` itself.

        >>> import tempfile
        >>> store = ArtifactStore(tempfile.mkdtemp())
        >>> store.recorded(store.save("run1", "profile", {}).uri)
        'run1/profile.json'
        >>> store.recorded("memory://elsewhere/run1/profile.json")
        'memory://elsewhere/run1/profile.json'
        """
        if not isinstance(self.fs, LocalFileSystem) or not uri.startswith("file://"):
            return uri
        path = PurePosixPath(fsspec.core.strip_protocol(uri))
        root = PurePosixPath(self.root)
        return str(path.relative_to(root)) if path.is_relative_to(root) else uri

    def resolved(self, recorded: str, run_id: str) -> str:
        """The URL of a file of run ``run_id`` the table records as ``recorded``.

        A path relative to the root is under this root. An absolute one (from an older
        version) is read in place, unless it lies in a folder laid out like this root
        (``.../.prodml/artifacts/<run>/<file>`` for a project's own store) and this root has
        the same file: a store copied elsewhere then reads its own copy.
        """
        if "://" not in recorded and not recorded.startswith("/"):
            return str(self.fs.unstrip_protocol(f"{self.root}/{recorded}"))
        if not isinstance(self.fs, LocalFileSystem) or not recorded.startswith("file://"):
            return recorded
        path = PurePosixPath(fsspec.core.strip_protocol(recorded))
        root = PurePosixPath(self.root)
        if path.parent.name != run_id or path.parent.parent.parts[-2:] != root.parts[-2:]:
            return recorded
        here = f"{self.root}/{run_id}/{path.name}"
        return str(self.fs.unstrip_protocol(here)) if self.fs.exists(here) else recorded

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


#: What each format's file is, for messages.
_FORMATS = {"npy": "a plain numpy array", "json": "a JSON file", "skops": "a skops file"}


def _skops() -> Any:
    """skops.io, imported when a model is saved or loaded: the import takes a second or more
    (it lists scikit-learn's estimators), which a command that reads no model (prodml
    monitor, runs list) would pay for nothing."""
    import skops.io
    import skops.io.exceptions  # skops.io.exceptions, an attribute once imported

    return skops.io


def _decoded(artifact: SavedArtifact, data: bytes) -> Any:
    if artifact.format == "npy":
        return np.load(io.BytesIO(data), allow_pickle=False)
    if artifact.format == "json":
        return json.loads(data)
    if artifact.format == "skops":
        sio = _skops()
        try:
            return sio.loads(data, trusted=list(artifact.trusted))
        except sio.exceptions.UntrustedTypesFoundException:
            found = sio.get_untrusted_types(data=data)
            raise StoreError(
                f"artifact {artifact.uri} holds types not recorded when it was saved: "
                f"{listing(t for t in found if t not in artifact.trusted)}; only the types "
                f"recorded at save time load (recorded: {listing(artifact.trusted) or 'none'}). "
                "prodml did not write this file: restore the original, or fit the model again"
            ) from None
    raise StoreError(f"artifact {artifact.name} has unknown format '{artifact.format}'")


def _content(data: bytes) -> str:
    """What a file holds, judged by its first bytes.

    >>> _content(b"PK\\x03\\x04..."), _content(b"hello world")
    ('a zip archive', "unknown content starting with b'hello world'")
    """
    if data.startswith(b"\x93NUMPY"):
        return "numpy objects that need unpickling" if b"'|O'" in data[:128] else "a numpy array"
    if data.startswith(b"\x80"):  # the PROTO opcode of pickle protocols 2 and above
        return "a Python pickle"
    if data.startswith(b"PK"):
        return "a zip archive"
    return f"unknown content starting with {data[:16]!r}"


def _sync(handle: Any) -> None:
    """Flush a local file to disk before it is renamed into place."""
    handle.flush()
    fileno = getattr(handle, "fileno", None)
    if fileno is not None:
        with contextlib.suppress(OSError, io.UnsupportedOperation):
            os.fsync(fileno())
