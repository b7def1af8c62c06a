"""A registered version as one folder, and back into a store: ``prodml models export NAME:V
DIR`` and ``prodml models import DIR``.

The folder holds what the version needs to be served, monitored and audited elsewhere:
every artifact of its run as the store keeps it (the model's skops file, the reference
profile, the classes, the dev calibration, the split), ``schema.json`` (the input schema),
``evaluation.json`` (the run's newest evaluation, when it has one) and ``manifest.json``:
the format and its version, the version's and the run's records, and each file's SHA-256
and size. An export is written under a temporary name and moved into place, so a failed
one leaves no half folder. Import checks every file against the manifest before it writes
anything, keeps the run's id (the lineage reads the same in both stores) and registers the
next version of the name, as ``prodml models register`` does; importing the same folder
again finds the version it made.

>>> import tempfile
>>> from prodml.store.artifacts import ArtifactStore
>>> from prodml.store.database import Database
>>> def store(folder: str) -> Registry:
...     runs = Runs(Database(f"sqlite:///{folder}/p.db"), ArtifactStore(f"{folder}/files"))
...     return Registry(runs)
>>> here, there, folder = store(tempfile.mkdtemp()), store(tempfile.mkdtemp()), tempfile.mkdtemp()
>>> run_id = here.runs.start("demo", "fit")
>>> saved = here.runs.artifacts.save(run_id, "model", {"w": 2})
>>> version = here.register(here.runs.finish(run_id, artifacts=(saved,)), "demo")
>>> sorted(export_version(here, "demo:1", f"{folder}/demo-1").files)
['manifest.json', 'model.json']
>>> imported = import_version(there, f"{folder}/demo-1")
>>> imported.version.ref, imported.version.run_id == run_id, imported.added
('demo:1', True, True)
>>> there.load(imported.version), import_version(there, f"{folder}/demo-1").added
({'w': 2}, False)
>>> here.database.dispose(); there.database.dispose()
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from importlib.metadata import version as metadata_version
from pathlib import Path
from typing import Any

import fsspec

from prodml.errors import IntegrityError, NotFoundError, StoreError, listing
from prodml.registry import ModelVersion, Registry
from prodml.store.artifacts import SavedArtifact
from prodml.store.evaluations import Evaluation, Evaluations, SignOff
from prodml.store.runs import Run, Runs, utc_now

MANIFEST = "manifest.json"
#: What ``manifest.json`` says the folder is, and the version of its layout.
FORMAT = "prodml-model"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Exported:
    """A version written to a folder: the files there and their SHA-256."""

    version: ModelVersion
    folder: Path
    files: dict[str, str]


@dataclass(frozen=True)
class Imported:
    """A version brought into a store: ``source`` is its ``name:version`` in the store it
    was exported from; ``added`` is False when this store had it already."""

    version: ModelVersion
    source: str
    added: bool


def export_version(registry: Registry, ref: str, folder: str | Path) -> Exported:
    """Write version ``ref`` (``name:3``, ``name``...) into ``folder`` (new, or empty)."""
    version = registry.get(ref)
    run = registry.runs.get(version.run_id)
    files: dict[str, bytes] = {}
    artifacts = {}
    for artifact in run.artifacts:
        file = f"{artifact.name}.{artifact.format}"
        files[file] = read_artifact(artifact)
        artifacts[artifact.name] = {
            "file": file,
            "format": artifact.format,
            "format_version": artifact.format_version,
            "trusted": list(artifact.trusted),
        }
    if version.input_schema is not None:
        files["schema.json"] = as_json(version.input_schema)
    evaluation = Evaluations(registry.database).latest(run.id)
    if evaluation is not None:
        files["evaluation.json"] = as_json(asdict(evaluation))
    record = {f.name: getattr(run, f.name) for f in fields(Run) if f.name not in _NOT_COPIED}
    files[MANIFEST] = as_json(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "exported_by": f"prodml {metadata_version('prodml')}",
            "exported_at": utc_now(),
            "model": {**asdict(version), "ref": version.ref, "input_schema": "schema.json"},
            "run": record,
            "artifacts": artifacts,
            "files": {name: _entry(data) for name, data in sorted(files.items())},
        }
    )
    target = Path(folder)
    with written(target) as partial:
        for name, data in files.items():
            (partial / name).write_bytes(data)
    return Exported(version, target, {name: _entry(data)["sha256"] for name, data in files.items()})


def import_version(registry: Registry, folder: str | Path, name: str | None = None) -> Imported:
    """Register the version exported into ``folder`` as the next version of ``name`` (by
    default its name in the store it came from), its run (same id) and files included."""
    source = Path(folder)
    manifest = _manifest(source)
    files = _checked_files(source, manifest)
    model = manifest["model"]
    name = name or model["name"]
    record = manifest["run"]
    runs = registry.runs
    run = _same_run(runs, record["id"], manifest)
    if run is None:
        run = _adopt(runs, record, manifest["artifacts"], files)
        if "evaluation.json" in files:
            _evaluation(registry, json.loads(files["evaluation.json"]))
    for known in registry.versions(name):
        if known.run_id == run.id:
            return Imported(known, model["ref"], added=False)
    return Imported(registry.register(run, name), model["ref"], added=True)


@contextlib.contextmanager
def written(target: Path) -> Iterator[Path]:
    """A temporary folder beside ``target`` that becomes ``target`` when the block ends
    without an error (and is removed when it fails); ``target`` must be new or empty."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        held = sorted(p.name for p in target.iterdir())[:5] if target.is_dir() else []
        what = f"already holds files ({listing(held)})" if held else "is a file"
        raise StoreError(f"cannot export into {target}: it {what}; give a new or empty folder")
    partial = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.partial"
    partial.mkdir(parents=True)
    try:
        yield partial
        if target.exists():
            target.rmdir()
        os.replace(partial, target)
    finally:
        if partial.exists():
            shutil.rmtree(partial)


#: Fields of a run that the folder holds elsewhere (files, schema.json) or not at all.
_NOT_COPIED = ("artifacts", "input_schema", "parent_id")


def read_artifact(artifact: SavedArtifact) -> bytes:
    """The artifact's bytes, as recorded: a file changed since fails here, not elsewhere."""
    fs, path = fsspec.core.url_to_fs(artifact.uri)
    try:
        data: bytes = fs.cat_file(path)
    except FileNotFoundError:
        raise StoreError(
            f"artifact {artifact.name} is missing at {artifact.uri}; restore the file before "
            "exporting"
        ) from None
    if hashlib.sha256(data).hexdigest() != artifact.sha256:
        raise IntegrityError(
            f"artifact {artifact.uri} was changed after it was saved (its SHA-256 is not the "
            f"recorded {artifact.sha256[:12]}...); restore the original before exporting"
        )
    return data


def as_json(value: Any) -> bytes:
    return json.dumps(value, indent=2, default=_plain, allow_nan=False).encode()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _entry(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise NotFoundError(
            f"{source} has no {MANIFEST}: it is not a folder prodml models export wrote; give "
            "the folder export made"
        ) from None
    except ValueError as exc:
        raise IntegrityError(f"{source / MANIFEST} is not JSON ({exc}); export again") from None
    if manifest.get("format") != FORMAT:
        raise IntegrityError(
            f"{source / MANIFEST} says format {manifest.get('format')!r}, not {FORMAT!r}: "
            "it is not a folder prodml models export wrote (an MLflow folder cannot be "
            "imported)"
        )
    made = manifest.get("format_version")
    if not isinstance(made, int) or made > FORMAT_VERSION:
        raise StoreError(
            f"{source} has format version {made}, newer than this prodml reads "
            f"({FORMAT_VERSION}); it was exported by {manifest.get('exported_by')}: upgrade "
            "prodml"
        )
    return manifest


def _checked_files(source: Path, manifest: dict[str, Any]) -> dict[str, bytes]:
    """Every file the manifest lists, after its size and SHA-256 are checked."""
    files = {}
    for name, expected in manifest["files"].items():
        if name == MANIFEST:
            continue
        if Path(name).name != name or name.startswith("."):
            raise IntegrityError(f"{source / MANIFEST} lists {name!r}, which is not a file name")
        try:
            data = (source / name).read_bytes()
        except FileNotFoundError:
            raise IntegrityError(
                f"{source / name} is missing, and {MANIFEST} lists it; export the version again"
            ) from None
        if _entry(data) != expected:
            raise IntegrityError(
                f"{source / name} was changed after it was exported: its SHA-256 is "
                f"{_entry(data)['sha256'][:12]}..., {MANIFEST} says "
                f"{expected['sha256'][:12]}...; export the version again"
            )
        files[name] = data
    for artifact in manifest["artifacts"].values():
        if artifact["file"] not in files:
            raise IntegrityError(
                f"{source / MANIFEST} names artifact file {artifact['file']!r} but not its "
                "SHA-256; export the version again"
            )
    return files


def _same_run(runs: Runs, run_id: str, manifest: dict[str, Any]) -> Run | None:
    """This store's run ``run_id``, when it has it: it must hold the same model."""
    try:
        run = runs.get(run_id)
    except NotFoundError:
        return None
    if run.id != run_id:  # a longer id that starts with it
        return None
    expected = manifest["files"][manifest["artifacts"]["model"]["file"]]["sha256"]
    if run.artifact("model").sha256 != expected:
        raise StoreError(
            f"this store has a run {run_id} whose model is not the one in the folder; it "
            "cannot hold both: import into another store"
        )
    return run


def _adopt(
    runs: Runs,
    record: dict[str, Any],
    artifacts: dict[str, dict[str, Any]],
    files: dict[str, bytes],
) -> Run:
    """The run of ``record`` in this store, its files written under the store's root."""
    store, run_id = runs.artifacts, record["id"]
    saved = []
    try:
        for name, artifact in artifacts.items():
            data = files[artifact["file"]]
            path = f"{store.root}/{run_id}/{artifact['file']}"
            store.fs.makedirs(f"{store.root}/{run_id}", exist_ok=True)
            store.fs.pipe_file(path, data)
            saved.append(
                SavedArtifact(
                    name=name,
                    uri=store.fs.unstrip_protocol(path),
                    sha256=_entry(data)["sha256"],
                    size_bytes=len(data),
                    format=artifact["format"],
                    format_version=artifact["format_version"],
                    trusted=tuple(artifact["trusted"]),
                )
            )
        schema = json.loads(files["schema.json"]) if "schema.json" in files else None
        times = {key: _moment(record[key]) for key in ("started_at", "ended_at")}
        copied = {"parent_id": None, "input_schema": schema, "artifacts": tuple(saved)}
        return runs.adopt(Run(**{**record, **times, **copied}))
    except BaseException:
        store.remove_run(run_id)
        raise


def _evaluation(registry: Registry, record: dict[str, Any]) -> Evaluation:
    signed = record.get("sign_off")
    sign_off = None
    if signed is not None:
        at = datetime.fromisoformat(signed["at"])
        sign_off = SignOff(by=signed["by"], note=signed["note"], at=at)
    return Evaluations(registry.database).record(
        record["run_id"],
        record["project"],
        data=record["data"],
        result=record["result"],
        passed=record["passed"],
        sign_off=sign_off,
    )


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
