"""`ArtifactStore`: whole-file writes, SHA-256 checks on load, skops and npy round trips."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from prodml.errors import IntegrityError, StoreError
from prodml.store.artifacts import FORMAT_VERSION, ArtifactStore, SavedArtifact


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(str(tmp_path / "artifacts"))


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[Any, Any]:
    features, labels = load_breast_cancer(return_X_y=True)
    return features, labels


def local_path(artifact: SavedArtifact) -> Path:
    assert artifact.uri.startswith("file://"), artifact.uri
    return Path(artifact.uri.removeprefix("file://"))


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# --- round trips -----------------------------------------------------------------------


def test_fitted_logistic_regression_round_trips_and_predicts_identically(
    store: ArtifactStore, breast_cancer: tuple[Any, Any]
) -> None:
    features, labels = breast_cancer
    scaled = StandardScaler().fit_transform(features)
    model = LogisticRegression(max_iter=1000).fit(scaled, labels)

    saved = store.save("run1", "model", model)
    loaded = store.load(saved)

    assert type(loaded) is LogisticRegression
    assert saved.format == "skops"
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    np.testing.assert_array_equal(loaded.predict(scaled), model.predict(scaled))
    np.testing.assert_array_equal(loaded.predict_proba(scaled), model.predict_proba(scaled))


def test_fitted_pipeline_round_trips_and_predicts_identically(
    store: ArtifactStore, breast_cancer: tuple[Any, Any]
) -> None:
    features, labels = breast_cancer
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))]
    ).fit(features, labels)

    loaded = store.load(store.save("run1", "model", pipeline))

    assert [name for name, _ in loaded.steps] == ["scale", "model"]
    np.testing.assert_array_equal(loaded.predict(features), pipeline.predict(features))
    np.testing.assert_array_equal(loaded.predict_proba(features), pipeline.predict_proba(features))


def test_int8_array_round_trips_with_its_dtype(store: ArtifactStore) -> None:
    array = np.array([[0, -128, 127], [2, 1, -1]], dtype=np.int8)

    saved = store.save("run1", "split", array)
    loaded = store.load(saved)

    assert saved.format == "npy"
    assert loaded.dtype == np.int8
    np.testing.assert_array_equal(loaded, array)


def test_saved_artifact_records_the_file_it_wrote(store: ArtifactStore, tmp_path: Path) -> None:
    saved = store.save("run1", "split", np.arange(10, dtype=np.int8))

    file = local_path(saved)
    content = file.read_bytes()
    assert file == tmp_path / "artifacts" / "run1" / "split.npy"
    assert saved.name == "split"
    assert saved.sha256 == hashlib.sha256(content).hexdigest()
    assert saved.size_bytes == len(content)
    assert saved.format_version == FORMAT_VERSION


def test_saving_again_under_the_same_name_replaces_the_file(store: ArtifactStore) -> None:
    first = store.save("run1", "split", np.zeros(3, dtype=np.int8))
    second = store.save("run1", "split", np.ones(5, dtype=np.int8))

    assert first.uri == second.uri
    assert first.sha256 != second.sha256
    np.testing.assert_array_equal(store.load(second), np.ones(5, dtype=np.int8))
    with pytest.raises(IntegrityError):
        store.load(first)


# --- whole-file writes -----------------------------------------------------------------


def test_save_leaves_no_partial_file_in_the_run_folder(
    store: ArtifactStore, tmp_path: Path, breast_cancer: tuple[Any, Any]
) -> None:
    features, labels = breast_cancer
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))]
    ).fit(features, labels)
    store.save("run1", "model", pipeline)
    store.save("run1", "split", np.arange(3, dtype=np.int8))

    assert files_in(tmp_path / "artifacts" / "run1") == ["model.skops", "split.npy"]


def test_failed_write_gives_store_error_and_leaves_no_file(
    store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_move(source: str, target: str, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.fs, "mv", broken_move)
    with pytest.raises(
        StoreError, match=r"cannot write artifact .*split\.npy: .*No space left on device"
    ):
        store.save("run1", "split", np.arange(3, dtype=np.int8))

    assert files_in(tmp_path / "artifacts" / "run1") == []


# --- refusals on load ------------------------------------------------------------------


def test_tampered_file_is_refused_with_integrity_error(store: ArtifactStore) -> None:
    saved = store.save("run1", "split", np.arange(100, dtype=np.int8))
    file = local_path(saved)
    content = bytearray(file.read_bytes())
    content[-1] ^= 0x01  # one bit of the last array element
    file.write_bytes(bytes(content))

    with pytest.raises(
        IntegrityError,
        match=rf"artifact {saved.uri} was changed after it was saved: .* the store recorded "
        rf"{saved.sha256[:12]}\.\.\.; refusing to load it",
    ):
        store.load(saved)


def test_tampered_model_is_refused_before_it_is_deserialized(
    store: ArtifactStore, breast_cancer: tuple[Any, Any]
) -> None:
    features, labels = breast_cancer
    model = LogisticRegression(max_iter=5000).fit(StandardScaler().fit_transform(features), labels)
    saved = store.save("run1", "model", model)
    file = local_path(saved)
    content = bytearray(file.read_bytes())
    content[len(content) // 2] ^= 0xFF
    file.write_bytes(bytes(content))

    with pytest.raises(IntegrityError, match=r"was changed after it was saved"):
        store.load(saved)


def test_missing_file_gives_store_error_saying_missing(store: ArtifactStore) -> None:
    saved = store.save("run1", "split", np.arange(3, dtype=np.int8))
    local_path(saved).unlink()

    with pytest.raises(StoreError, match=rf"artifact split is missing at {saved.uri}; restore"):
        store.load(saved)


def test_newer_format_version_is_refused_with_upgrade_advice(store: ArtifactStore) -> None:
    saved = store.save("run1", "split", np.arange(3, dtype=np.int8))
    newer = dataclasses.replace(saved, format_version=FORMAT_VERSION + 1)

    with pytest.raises(
        StoreError,
        match=rf"artifact split has format version {FORMAT_VERSION + 1}, newer than this "
        rf"prodml reads \({FORMAT_VERSION}\); upgrade prodml",
    ):
        store.load(newer)


def test_unknown_format_is_refused(store: ArtifactStore) -> None:
    saved = store.save("run1", "split", np.arange(3, dtype=np.int8))
    unknown = dataclasses.replace(saved, format="pickle")

    with pytest.raises(StoreError, match=r"artifact split has unknown format 'pickle'"):
        store.load(unknown)


# --- removal ---------------------------------------------------------------------------


def test_remove_run_deletes_its_folder_and_only_its_folder(
    store: ArtifactStore, tmp_path: Path
) -> None:
    store.save("run1", "split", np.arange(3, dtype=np.int8))
    store.save("run1", "other", np.arange(4, dtype=np.int8))
    kept = store.save("run2", "split", np.arange(5, dtype=np.int8))

    store.remove_run("run1")

    assert files_in(tmp_path / "artifacts") == ["run2"]
    np.testing.assert_array_equal(store.load(kept), np.arange(5, dtype=np.int8))


def test_remove_run_without_files_does_nothing(store: ArtifactStore, tmp_path: Path) -> None:
    kept = store.save("run2", "split", np.arange(3, dtype=np.int8))

    store.remove_run("run1")

    assert files_in(tmp_path / "artifacts") == ["run2"]
    assert local_path(kept).is_file()


def test_any_fsspec_url_holds_artifacts_with_the_same_checks() -> None:
    import fsspec

    root = f"memory://prodml-{np.random.default_rng().integers(1 << 30)}"
    store = ArtifactStore(root)
    saved = store.save("run1", "split", np.array([2, 0, 1], dtype=np.int8))
    assert saved.uri.startswith("memory://") and store.load(saved).tolist() == [2, 0, 1]

    fs, path = fsspec.core.url_to_fs(saved.uri)
    fs.pipe_file(path, fs.cat_file(path)[:-1] + b"\x07")
    with pytest.raises(IntegrityError, match=r"was changed after it was saved"):
        store.load(saved)
    store.remove_run("run1")
    assert not fs.exists(path)
