"""Artifacts whose SHA-256 matches their record but whose content prodml did not write: a
skops file with types not recorded at save time, a file that is not a zip at all, a
pickle. Each is refused by the loader itself, in one line naming the file, what it holds
and what to do; through ``prodml predict`` as one ``error:`` line and exit code 1."""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import io
import os
import pickle
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.dummy import DummyClassifier

import prodml
from prodml.errors import StoreError
from prodml.store.artifacts import ArtifactStore, SavedArtifact

PRODML = Path(sys.executable).parent / "prodml"


def untrusted_skops() -> bytes:
    """A skops file holding a reference to ``eval`` beside a model."""
    data: bytes = sio.dumps({"model": DummyClassifier(), "hook": builtins.eval})
    return data


def renamed_pickle() -> bytes:
    """A numpy array pickled (what ``joblib.dump`` or ``pickle.dump`` would leave)."""
    return pickle.dumps(np.arange(5))


def object_npy() -> bytes:
    """A .npy file of Python objects: loading it means unpickling."""
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def not_a_zip() -> bytes:
    return b"just some text, not a model\n"


#: (crafted content, the format its row claims, what the refusal must say)
FOREIGN: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "untrusted-skops": (
        untrusted_skops,
        "skops",
        r"holds types not recorded when it was saved: builtins\.eval; only the types "
        r"recorded at save time load \(recorded: none\)",
    ),
    "pickle-renamed": (
        renamed_pickle,
        "skops",
        r"is not a skops file \(it holds a Python pickle\); prodml never loads pickles",
    ),
    "not-a-zip": (
        not_a_zip,
        "skops",
        r"is not a skops file \(it holds unknown content starting with b'just some text, '\)",
    ),
    "object-npy": (
        object_npy,
        "npy",
        r"is not a plain numpy array \(it holds numpy objects that need unpickling\); "
        r"prodml never loads pickles",
    ),
}


def planted(store: ArtifactStore, run_id: str, name: str, fmt: str, data: bytes) -> SavedArtifact:
    """``data`` in the store's folder with a record whose SHA-256 matches it."""
    saved = store.save(run_id, name, np.zeros(1, dtype=np.int8))
    path = Path(store.root) / run_id / f"{name}.{fmt}"
    path.write_bytes(data)
    return dataclasses.replace(
        saved,
        uri=path.as_uri(),
        format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_the_loader_refuses_foreign_content_in_one_line(kind: str, tmp_path: Path) -> None:
    craft, fmt, says = FOREIGN[kind]
    store = ArtifactStore(str(tmp_path / "artifacts"))
    artifact = planted(store, "run1", "model", fmt, craft())

    with pytest.raises(StoreError, match=rf"^artifact {re.escape(artifact.uri)} {says}") as info:
        store.load(artifact)

    message = str(info.value)
    assert "\n" not in message
    assert "fit the model again" in message


# --- through the command line ------------------------------------------------------------


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A breast-cancer project, in its own store, whose fit is registered as breast-cancer:1."""
    for name in [k for k in os.environ if k.startswith("PRODML_")]:
        monkeypatch.delenv(name)
    folder = prodml.init(tmp_path / "bc", example="breast-cancer")
    with prodml.Project(folder) as project:
        version = project.register(project.fit().id, force=True, reason="a test")
    return folder, version.run_id


def replace_model(folder: Path, run_id: str, data: bytes) -> None:
    """Swap the run's model file for ``data``, and rewrite its row to match (SHA-256, size)."""
    (folder / ".prodml" / "artifacts" / run_id / "model.skops").write_bytes(data)
    with sqlite3.connect(folder / ".prodml" / "prodml.db") as conn:
        conn.execute(
            "UPDATE artifacts SET sha256 = ?, size_bytes = ? WHERE run_id = ? AND name = 'model'",
            (hashlib.sha256(data).hexdigest(), len(data), run_id),
        )


@pytest.mark.parametrize("kind", ["untrusted-skops", "pickle-renamed", "not-a-zip"])
def test_predict_with_a_foreign_model_is_one_error_line(
    kind: str, registered: tuple[Path, str], tmp_path: Path
) -> None:
    folder, run_id = registered
    craft, _, says = FOREIGN[kind]
    replace_model(folder, run_id, craft())
    rows = pd.read_csv(folder / "data" / "breast_cancer.csv").drop(columns=["diagnosis"]).head(5)
    rows.to_csv(folder / "new.csv", index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PRODML_", "FORCE_COLOR"))}

    result = subprocess.run(
        [str(PRODML), "predict", "new.csv", "-o", "out.csv", "--model", "breast-cancer:1"],
        cwd=folder,
        env={**env, "NO_COLOR": "1", "COLUMNS": "1000"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.match(rf"error: artifact \S+/{run_id}/model\.skops {says}", lines[0]), lines[0]
    assert not (folder / "out.csv").exists()

    with prodml.Project(folder) as project, pytest.raises(StoreError, match=says):
        project.load_model(run_id)
