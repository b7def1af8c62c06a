"""The key that signs the dashboard's session cookies: made once per store, kept in it.

It lives beside the runs' files in the store's artifact folder (or fsspec URL), as
``ui/session-secret``: every dashboard and server on the same store signs and reads the
same cookies, and nobody can forge one without reading the store. There is no default: a
store without one gets 32 random bytes the first time a dashboard opens it. Deleting the
file signs everyone out (a new one is made).

>>> import tempfile
>>> from prodml.store.artifacts import ArtifactStore
>>> store = ArtifactStore(tempfile.mkdtemp())
>>> first = session_secret(store)
>>> len(first) >= 43, session_secret(store) == first
(True, True)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid

from fsspec.implementations.local import LocalFileSystem

from prodml.errors import StoreError
from prodml.store.artifacts import ArtifactStore

#: where the secret is kept, under the artifact store's root (no run id looks like it)
FILE = "ui/session-secret"
#: the fewest characters a kept secret may have (32 random bytes, base64url: 43)
SHORTEST = 43


def session_secret(store: ArtifactStore) -> str:
    """The store's session secret, made now if it has none."""
    path = f"{store.root}/{FILE}"
    try:
        if not store.fs.exists(path):
            _make(store, path)
        secret = str(store.fs.cat_file(path).decode("ascii")).strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(
            f"cannot read or make the dashboard's session secret at {path}: {exc}; check that "
            "the store's artifact folder is writable (store.artifacts in prodml.yaml)"
        ) from None
    if len(secret) < SHORTEST:
        raise StoreError(
            f"the dashboard's session secret at {path} has {len(secret)} characters, fewer "
            f"than {SHORTEST}; delete the file and a new one is made (everyone signs in again)"
        )
    return secret


def _make(store: ArtifactStore, path: str) -> None:
    made = secrets.token_urlsafe(32).encode("ascii")
    if not isinstance(store.fs, LocalFileSystem):
        store.fs.pipe_file(path, made)  # two first dashboards at once: the last one wins
        return
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    # written whole under another name, then linked into place: a dashboard starting at
    # the same moment either links first or reads the other's, never half a file
    partial = os.path.join(folder, f".{uuid.uuid4().hex}.partial")
    handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(handle, made)
        os.fsync(handle)
    finally:
        os.close(handle)
    try:
        with contextlib.suppress(FileExistsError):
            os.link(partial, path)
    finally:
        os.unlink(partial)
