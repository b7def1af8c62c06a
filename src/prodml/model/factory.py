"""Build a model from its spec: a dotted factory path with parameters, nested for pipelines.

Any scikit-learn-compatible estimator works, and so does a plain rule
(``rules:rules.py:approve_if_income``, see :mod:`prodml.model.rules`).

>>> from prodml.config import ModelSpec
>>> model = build(ModelSpec(factory="sklearn.pipeline.make_pipeline", args=(
...     {"factory": "sklearn.preprocessing.StandardScaler"},
...     {"factory": "sklearn.linear_model.LogisticRegression", "params": {"C": 0.5}},
... )), Path("."))
>>> model.get_params()["logisticregression__C"]
0.5
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from prodml.config import ModelSpec
from prodml.errors import ModelError, did_you_mean
from prodml.model.rules import RULE_PREFIX, RuleModel


def build(spec: ModelSpec, root: Path, key: str = "model") -> Any:
    """A fresh, unfitted model from ``spec``; ``root`` is the project folder."""
    model = _make(spec, root, key)
    if not (hasattr(model, "fit") and hasattr(model, "predict")):
        raise ModelError(
            f"{key}.factory '{spec.factory}' made a {type(model).__name__}, which has no "
            "fit and predict; name a scikit-learn-compatible estimator or a rules: function"
        )
    return model


def _make(spec: ModelSpec, root: Path, key: str) -> Any:
    if spec.factory.startswith(RULE_PREFIX):
        return RuleModel.from_reference(spec.factory, root)
    factory = _import(spec.factory, root, key)
    args = [_nested(value, root, f"{key}.args[{i}]") for i, value in enumerate(spec.args)]
    params = {
        name: _nested(value, root, f"{key}.params.{name}") for name, value in spec.params.items()
    }
    try:
        model = factory(*args, **params)
    except TypeError as exc:
        raise ModelError(_parameter_problem(spec.factory, factory, params, key, exc)) from None
    except ValueError as exc:
        raise ModelError(f"{key}.params for {spec.factory} are not valid: {exc}") from None
    # scikit-learn's own estimators declare their parameters' constraints: check them now,
    # not at fit time. A user's own estimator need not declare any.
    validate = getattr(model, "_validate_params", None)
    if validate is not None and hasattr(model, "_parameter_constraints"):
        try:
            validate()
        except ValueError as exc:
            raise ModelError(f"{key}.params for {spec.factory}: {exc}") from None
    return model


def _nested(value: Any, root: Path, key: str) -> Any:
    if isinstance(value, dict) and "factory" in value:
        try:
            spec = ModelSpec.model_validate(value)
        except ValidationError as exc:
            raise ModelError(f"{key} is not a valid model spec: {exc.errors()[0]['msg']}") from None
        return _make(spec, root, key)
    if isinstance(value, list | tuple):
        return type(value)(_nested(v, root, f"{key}[{i}]") for i, v in enumerate(value))
    if isinstance(value, dict):
        return {k: _nested(v, root, f"{key}.{k}") for k, v in value.items()}
    return value


def _import(path: str, root: Path, key: str) -> Any:
    module_name, _, name = path.rpartition(".")
    if not module_name:
        raise ModelError(
            f"{key}.factory '{path}' is not a dotted path; write e.g. "
            "sklearn.linear_model.LogisticRegression, or rules:rules.py:function"
        )
    if str(root) not in sys.path:
        sys.path.append(str(root))  # a project may keep its own models beside prodml.yaml
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        top = {m.name for m in pkgutil.iter_modules()}
        parent = missing.rpartition(".")[0]
        if parent:
            siblings = [f"{parent}.{name}" for name in _submodules(parent)]
            hint = did_you_mean(missing, siblings)
        else:
            hint = did_you_mean(missing, top)
        raise ModelError(
            f"{key}.factory '{path}' cannot be imported: no module named '{missing}'{hint}"
        ) from None
    factory = getattr(module, name, None)
    if factory is None:
        public = [n for n in dir(module) if not n.startswith("_")]
        raise ModelError(
            f"{key}.factory '{path}' cannot be imported: module '{module_name}' has no "
            f"'{name}'{did_you_mean(name, public)}"
        )
    if not callable(factory):
        raise ModelError(f"{key}.factory '{path}' is a {type(factory).__name__}, not callable")
    return factory


def _submodules(package: str) -> list[str]:
    try:
        module = importlib.import_module(package)
    except ImportError:
        return []
    return [m.name for m in pkgutil.iter_modules(getattr(module, "__path__", []))]


def _parameter_problem(
    path: str, factory: Any, params: dict[str, Any], key: str, exc: TypeError
) -> str:
    try:
        allowed = [
            p.name
            for p in inspect.signature(factory).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
    except (TypeError, ValueError):
        allowed = []
    unknown = [name for name in params if allowed and name not in allowed]
    if unknown:
        name = unknown[0]
        return (
            f"{key}.params '{name}' is not a parameter of {path}; its parameters are: "
            f"{', '.join(allowed)}{did_you_mean(name, allowed)}"
        )
    return f"{key} {path} cannot be built with these arguments: {exc}"
