"""Artifact paths follow their store: a moved project still loads its models, a copied one
loads its own files and never the original's, and rows of older prodml versions (absolute
paths) keep loading."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pytest
from sqlalchemy import select, update

import prodml
from prodml.errors import IntegrityError
from prodml.store.artifacts import ArtifactStore
from prodml.store.runs import Runs
from prodml.store.tables import ArtifactRow


@pytest.fixture(autouse=True)
def _project_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """Projects here use their own store in ``.prodml/``, as a user's do."""
    monkeypatch.delenv("PRODML_DATABASE_URL", raising=False)
    monkeypatch.delenv("PRODML_ARTIFACTS_URL", raising=False)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A breast-cancer project with one fit (never touched: tests copy it)."""
    folder = prodml.init(tmp_path_factory.mktemp("paths") / "bc", example="breast-cancer")
    with prodml.Project(folder) as project:
        run = project.fit()
    return folder, run.id


@pytest.fixture
def original(fitted: tuple[Path, str], tmp_path: Path) -> Iterator[Path]:
    folder, _ = fitted
    yield Path(shutil.copytree(folder, tmp_path / "original" / "bc"))


def local_file(uri: str) -> Path:
    parsed = urlparse(uri)
    assert parsed.scheme in ("", "file"), uri
    return Path(url2pathname(parsed.path))


def stored_uris(folder: Path) -> dict[str, str]:
    """The ``uri`` column of the project's ``artifacts`` table, as the file holds it."""
    with sqlite3.connect(folder / ".prodml" / "prodml.db") as conn:
        return dict(conn.execute("SELECT name, uri FROM artifacts").fetchall())


def make_legacy(folder: Path) -> None:
    """Rewrite every artifact row as prodml wrote them before: an absolute file:// URI."""
    with sqlite3.connect(folder / ".prodml" / "prodml.db") as conn:
        rows = conn.execute("SELECT id, uri FROM artifacts").fetchall()
        for row_id, uri in rows:
            absolute = (
                (folder / ".prodml" / "artifacts" / uri).as_uri() if "://" not in uri else uri
            )
            conn.execute("UPDATE artifacts SET uri = ? WHERE id = ?", (absolute, row_id))


def spoil(file: Path) -> None:
    file.write_bytes(file.read_bytes() + b"\0")


# --- what the table holds ---------------------------------------------------------------


def test_a_local_store_records_paths_relative_to_its_root(
    fitted: tuple[Path, str], original: Path
) -> None:
    _, run_id = fitted
    uris = stored_uris(original)

    assert uris == {
        "model": f"{run_id}/model.skops",
        "split": f"{run_id}/split.npy",
        "profile": f"{run_id}/profile.json",
        "classes": f"{run_id}/classes.json",
        "calibration": f"{run_id}/calibration.json",
    }


def test_a_store_at_a_url_records_absolute_urls(runs: Runs) -> None:
    root = f"memory://prodml-{np.random.default_rng().integers(1 << 30)}"
    remote = Runs(runs.database, ArtifactStore(root))
    run_id = remote.start("paths", "fit")
    saved = remote.artifacts.save(run_id, "split", np.array([2, 0, 1], dtype=np.int8))
    remote.finish(run_id, artifacts=(saved,))

    with runs.database.session() as session:
        uri = session.scalar(select(ArtifactRow.uri).where(ArtifactRow.run_id == run_id))
    assert uri == saved.uri and uri.startswith("memory://")
    assert remote.artifacts.load(remote.get(run_id).artifact("split")).tolist() == [2, 0, 1]
    remote.artifacts.remove_run(run_id)


def test_runs_resolve_relative_rows_against_their_own_root(runs: Runs, tmp_path: Path) -> None:
    run_id = runs.start("paths", "fit")
    saved = runs.artifacts.save(run_id, "split", np.array([1, 0], dtype=np.int8))
    runs.finish(run_id, artifacts=(saved,))
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "artifacts", moved)

    elsewhere = Runs(runs.database, ArtifactStore(str(moved)))
    artifact = elsewhere.get(run_id).artifact("split")

    if runs.database.file is None:  # a shared store keeps whole URLs: the folder stays put
        assert artifact.uri == saved.uri
    else:
        assert local_file(artifact.uri) == moved / run_id / "split.npy"
        assert elsewhere.artifacts.load(artifact).tolist() == [1, 0]


def test_a_shared_store_reads_another_folder_s_artifacts(runs: Runs, tmp_path: Path) -> None:
    """Two project folders on one PostgreSQL store: each reads the other's runs (a fit
    compares itself with the previous fit, whichever folder made it)."""
    run_id = runs.start("paths", "fit")
    saved = runs.artifacts.save(run_id, "split", np.array([3, 1], dtype=np.int8))
    runs.finish(run_id, artifacts=(saved,))

    other = Runs(runs.database, ArtifactStore(str(tmp_path / "other" / "artifacts")))
    artifact = other.get(run_id).artifact("split")

    if runs.database.file is None:
        assert other.artifacts.load(artifact).tolist() == [3, 1]
    else:  # an SQLite store is one folder's: its rows are relative to that folder
        assert local_file(artifact.uri) == tmp_path / "other" / "artifacts" / run_id / "split.npy"


# --- a moved or copied project ------------------------------------------------------------


def test_a_moved_project_loads_and_evaluates_its_model(
    fitted: tuple[Path, str], original: Path, tmp_path: Path
) -> None:
    _, run_id = fitted
    moved = Path(shutil.move(original, tmp_path / "moved" / "bc"))

    with prodml.Project(moved) as project:
        model = project.load_model(run_id)
        evaluation = project.evaluate(run_id)
        artifact = project.run(run_id).artifact("model")

    assert hasattr(model, "predict_proba")
    assert evaluation.run_id == run_id
    assert local_file(artifact.uri) == moved / ".prodml" / "artifacts" / run_id / "model.skops"


def test_a_copy_loads_its_own_model_not_the_original_s(
    fitted: tuple[Path, str], original: Path, tmp_path: Path
) -> None:
    _, run_id = fitted
    copy = Path(shutil.copytree(original, tmp_path / "copy" / "bc"))
    spoil(original / ".prodml" / "artifacts" / run_id / "model.skops")

    with prodml.Project(copy) as project:
        assert hasattr(project.load_model(run_id), "predict_proba")
    with (
        prodml.Project(original) as project,
        pytest.raises(IntegrityError, match="was changed after it was saved"),
    ):
        project.load_model(run_id)


# --- rows written by earlier versions (absolute paths) -------------------------------------


def test_a_legacy_absolute_row_still_loads_in_place(
    fitted: tuple[Path, str], original: Path
) -> None:
    _, run_id = fitted
    make_legacy(original)
    assert stored_uris(original)["model"].startswith("file://")

    with prodml.Project(original) as project:
        assert hasattr(project.load_model(run_id), "predict_proba")


def test_a_copied_legacy_store_reads_its_own_files(
    fitted: tuple[Path, str], original: Path, tmp_path: Path
) -> None:
    _, run_id = fitted
    make_legacy(original)
    copy = Path(shutil.copytree(original, tmp_path / "copy" / "bc"))
    spoil(original / ".prodml" / "artifacts" / run_id / "model.skops")

    with prodml.Project(copy) as project:
        artifact = project.run(run_id).artifact("model")
        assert hasattr(project.load_model(run_id), "predict_proba")
        assert project.evaluate(run_id).run_id == run_id
    assert local_file(artifact.uri) == copy / ".prodml" / "artifacts" / run_id / "model.skops"


def test_a_legacy_row_outside_the_store_s_layout_keeps_its_absolute_path(
    runs: Runs, tmp_path: Path
) -> None:
    """A file kept elsewhere (another root) is read where the row says, even when this root
    has a file of the same run and name: only the store layout is re-rooted."""
    elsewhere = ArtifactStore(str(tmp_path / "kept" / "files"))
    run_id = runs.start("paths", "fit")
    saved = elsewhere.save(run_id, "split", np.array([7, 7], dtype=np.int8))
    runs.artifacts.save(run_id, "split", np.array([1, 1], dtype=np.int8))  # same run and name
    runs.finish(run_id, artifacts=(saved,))
    with runs.database.session() as session:
        session.execute(
            update(ArtifactRow).where(ArtifactRow.run_id == run_id).values(uri=saved.uri)
        )

    artifact = runs.get(run_id).artifact("split")

    assert artifact.uri == saved.uri
    assert runs.artifacts.load(artifact).tolist() == [7, 7]
