"""A registered version as an MLflow model folder (``prodml models export NAME:V DIR --format
mlflow``), and the loader MLflow calls to serve it.

The folder is MLflow's ``python_function`` flavor, as ``mlflow.pyfunc.save_model`` lays it
out: ``MLmodel`` names this module as the ``loader_module`` and ``model/`` as its data (the
version's skops file and ``prodml.json``: its SHA-256, the types skops may load and the
input schema); the signature gives each input column's MLflow type (a column that had
missing values in training, as a double or a string that takes null); ``input_example.json``
and ``serving_input_example.json`` hold three typical rows; ``requirements.txt``,
``python_env.yaml`` and ``conda.yaml`` pin prodml and the packages the run was fitted with,
at their versions then.

``mlflow models serve -m DIR --env-manager local`` serves it where prodml is installed (with
MLflow's other environment managers, prodml must be installable from the package index),
and so does ``mlflow.pyfunc.load_model(DIR)``. A request's rows go through the checks of
prodml's own server (:class:`~prodml.serve.validation.RowChecker`: a missing field, a
category never seen in training, a null where training had none are refused with the row
and field named), then the model; the answer is each row's label (a classifier) or value
(a regressor), as prodml's ``/invocations`` answers.
"""

from __future__ import annotations

import hashlib
import json
import platform
import uuid
from importlib.metadata import version as metadata_version
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from prodml.data.schema import ColumnSchema, Schema
from prodml.errors import NotFoundError
from prodml.registry import Registry
from prodml.registry_export import Exported, as_json, read_artifact, written
from prodml.serve.predictor import Predictor, probe_rows
from prodml.serve.rejection import Rejected
from prodml.serve.source import Served
from prodml.store.artifacts import ArtifactStore, SavedArtifact
from prodml.store.runs import Run, utc_now

#: Where the model's files are in the folder (the flavor's ``data``), and what says how to load it.
DATA = "model"
ABOUT = "prodml.json"
#: MLflow's column types for each kind of column prodml's schema knows.
_TYPES = {
    "number": "double",
    "integer": "long",
    "boolean": "boolean",
    "category": "string",
    "text": "string",
    "datetime": "datetime",
}


def export_mlflow(registry: Registry, ref: str, folder: str | Path) -> Exported:
    """Write version ``ref`` into ``folder`` (new, or empty) as an MLflow model folder."""
    version = registry.get(ref)
    if version.input_schema is None:
        raise NotFoundError(
            f"model {version.ref} has no input schema, which an MLflow signature is made of; "
            "register a new fit"
        )
    run = registry.runs.get(version.run_id)
    artifact = run.artifact("model")
    schema = Schema.from_dict(version.input_schema)
    names = [column.name for column in schema.columns]
    example = {"columns": names, "data": [list(row) for row in probe_rows(schema)]}
    about = {
        "model": version.ref,
        "run": run.id,
        "file": f"model.{artifact.format}",
        "sha256": artifact.sha256,
        "trusted": list(artifact.trusted),
        "schema": version.input_schema,
    }
    python = (run.environment or {}).get("python") or platform.python_version()
    requirements = _requirements(run)
    files = {
        f"{DATA}/{about['file']}": read_artifact(artifact),
        f"{DATA}/{ABOUT}": as_json(about),
        "MLmodel": _yaml(_mlmodel(version.ref, run, schema, registry.load(version), python)),
        "input_example.json": as_json(example),
        "serving_input_example.json": as_json({"dataframe_split": example}),
        "requirements.txt": "".join(f"{line}\n" for line in requirements).encode(),
        "python_env.yaml": _yaml(
            {
                "python": python,
                "build_dependencies": ["pip"],
                "dependencies": ["-r requirements.txt"],
            }
        ),
        "conda.yaml": _yaml(
            {
                "name": "mlflow-env",
                "channels": ["conda-forge"],
                "dependencies": [f"python={python}", "pip", {"pip": requirements}],
            }
        ),
    }
    target = Path(folder)
    with written(target) as partial:
        (partial / DATA).mkdir()
        for name, data in files.items():
            (partial / name).write_bytes(data)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    return Exported(version, target, digests)


class MlflowModel:
    """What MLflow's ``pyfunc`` wraps: a version's predictor, fed the rows of a frame."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> list[Any]:
        """The label (or value) of each row of ``model_input`` (a DataFrame, or records)."""
        if hasattr(model_input, "to_json"):  # a DataFrame: as JSON, as a request sends it
            model_input = orjson.loads(model_input.to_json(orient="records", date_format="iso"))
        try:
            rows = self.predictor.checker.records(list(model_input))
        except Rejected as rejected:
            raise _bad_input(rejected.message) from None
        predicted = self.predictor.predict(rows)
        answers = predicted.labels if predicted.labels is not None else predicted.values
        assert answers is not None  # a label or a value for every row
        return answers


def _load_pyfunc(path: str) -> MlflowModel:
    """MLflow's entry point: the model in ``path`` (the folder's ``model/``), its SHA-256
    checked and only the types recorded at its fit loaded."""
    folder = Path(path)
    about = json.loads((folder / ABOUT).read_bytes())
    file = folder / about["file"]
    artifact = SavedArtifact(
        name="model",
        uri=file.resolve().as_uri(),
        sha256=about["sha256"],
        size_bytes=file.stat().st_size,
        format=file.suffix.lstrip("."),
        format_version=1,
        trusted=tuple(about["trusted"]),
    )
    model = ArtifactStore(str(folder)).load(artifact)
    name, _, number = about["model"].rpartition(":")
    served = Served(
        endpoint=name,
        name=name,
        version=int(number),
        model=model,
        schema=Schema.from_dict(about["schema"]),
        run_id=about["run"],
    )
    return MlflowModel(Predictor(served))


def _mlmodel(ref: str, run: Run, schema: Schema, model: Any, python: str) -> dict[str, Any]:
    classes = getattr(model, "classes_", None)
    output = "double" if classes is None else _output_type(np.asarray(classes))
    return {
        "flavors": {
            "python_function": {
                "loader_module": __name__,
                "data": DATA,
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "python_version": python,
            },
            "prodml": {"model": ref, "run": run.id, "prodml_version": metadata_version("prodml")},
        },
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": utc_now().strftime("%Y-%m-%d %H:%M:%S.%f"),
        "signature": {
            "inputs": json.dumps([_column(c) for c in schema.columns]),
            "outputs": json.dumps([{"type": output, "required": True}]),
            "params": None,
        },
        "saved_input_example_info": {
            "artifact_path": "input_example.json",
            "type": "dataframe",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
        },
    }


def _column(column: ColumnSchema) -> dict[str, Any]:
    kind = _TYPES[column.kind]
    if column.nullable and kind in ("long", "boolean"):
        # MLflow refuses a missing value in a long or boolean column; the row checks
        # take 3.0 for 3 and refuse 3.5, as they do for JSON
        kind = "double" if kind == "long" else "string"
    return {"type": kind, "name": column.name, "required": True}


def _output_type(classes: np.ndarray) -> str:
    if classes.dtype.kind == "b":
        return "boolean"
    return "long" if classes.dtype.kind in "iu" else "string"


def _requirements(run: Run) -> list[str]:
    """prodml at this version (it loads the model), then the packages the run was fitted
    with, at their versions then."""
    fitted = (run.environment or {}).get("packages", {})
    pinned = {"prodml": metadata_version("prodml")}
    pinned.update({name: v for name, v in fitted.items() if name != "prodml"})
    return [f"{name}=={pinned_version}" for name, pinned_version in pinned.items()]


def _bad_input(message: str) -> Exception:
    """A row the checks refuse, as MLflow's server answers it: 400 with the message."""
    try:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import BAD_REQUEST
    except ImportError:  # loaded without MLflow's server
        return ValueError(message)
    return MlflowException(message, error_code=BAD_REQUEST)


def _yaml(value: dict[str, Any]) -> bytes:
    return yaml.safe_dump(value, sort_keys=False).encode()
