"""The project's settings from several files and the environment, as Palladium composes its
configuration.

- A project reads ``prodml.yaml`` in its folder, or the files ``PRODML_CONFIG`` lists
  (comma-separated, relative to the folder: ``PRODML_CONFIG=base.yaml,prod.yaml``), merged
  in that order: a later file wins. Mappings merge key by key; any other value (a list, a
  number, text) is replaced whole.
- A file may begin from others: ``extends: base.yaml`` (or a list of files, relative to
  the file that names them) merges those first, then the file over them.
- Any text value may hold ``${VAR}`` or ``${VAR:-default}``: the environment variable, or
  the default when it is unset or empty (``$${`` is a literal ``${``). A value that is only
  a ``${...}`` takes the type its text has in YAML: ``max_iter: ${ITER:-200}`` is the
  number 200, ``database: ${DB_URL:-}`` is null (the default store) while ``DB_URL`` is
  unset. Inside YAML's ``{...}`` or ``[...]``, quote it: ``{C: "${C:-1}"}``.

Every value keeps where it came from (:attr:`Composed.origins`): the file that set it last
and the variables it read, which ``prodml config`` shows beside it.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "base.yaml").write_text("project: p\\nmodel: {factory: m.M, params: {C: 1}}")
>>> _ = (folder / "prod.yaml").write_text("extends: base.yaml\\nmodel: {params: {C: '${C:-2}'}}")
>>> composed = compose(folder, {CONFIG_ENV: "prod.yaml"})
>>> composed.raw
{'project': 'p', 'model': {'factory': 'm.M', 'params': {'C': 2}}}
>>> for key, origin in composed.origins.items():
...     print(".".join(key), origin.file.name, origin.variables)
project base.yaml ()
model.factory base.yaml ()
model.params.C prod.yaml ('C',)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodml.config import PROJECT_FILE, read_yaml
from prodml.errors import ConfigError, shortened

#: The files a project's settings come from, when not its prodml.yaml alone.
CONFIG_ENV = "PRODML_CONFIG"
EXTENDS = "extends"

#: ``${NAME}``, ``${NAME:-default}``, or ``$${``, which stands for a literal ``${``.
_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Key = tuple[str, ...]


@dataclass(frozen=True)
class Origin:
    """Where a value came from: the file that set it last, the variables its text read."""

    file: Path
    variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class Composed:
    """The project's settings as the files and the environment give them, before parsing:
    ``raw``, the merged mapping; ``files``, in the order they were merged; ``origins``, for
    each value (a key path to anything but a mapping), where it came from."""

    raw: dict[str, Any]
    files: tuple[Path, ...]
    origins: dict[Key, Origin]


def compose(path: Path, environ: Mapping[str, str] | None = None) -> Composed:
    """The settings of the project in folder ``path`` (or of the file ``path``), with the
    variables of ``environ`` (default: this process's environment)."""
    environ = os.environ if environ is None else environ
    if path.is_dir():
        names = [n.strip() for n in environ.get(CONFIG_ENV, "").split(",") if n.strip()]
        files = [_listed(path, name) for name in names] or [path / PROJECT_FILE]
    else:
        files = [path]
    composer = _Composer(environ)
    for file in files:
        composer.merge_file(file, ())
    if not composer.raw:
        raise ConfigError(
            f"{composer.order[-1].name} is empty; it needs at least project, data and model"
        )
    return Composed(composer.raw, tuple(composer.order), composer.origins)


def read_file(file: Path) -> object:
    """One settings file, read as prodml reads YAML (:func:`~prodml.config.read_yaml`)."""
    if not file.exists():
        raise ConfigError(
            f"no {file.name} in {file.parent}; create a project with "
            "`prodml init DIR --example loans` or run from a project folder"
        )
    try:
        content = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{file} is not UTF-8: byte {exc.start} (line {line}) is 0x{content[exc.start]:02x}; "
            "save the file as UTF-8"
        ) from None
    return read_yaml(text, file.name)


def _listed(folder: Path, name: str) -> Path:
    file = folder / name
    if not file.is_file():
        raise ConfigError(
            f"{CONFIG_ENV} names {name}, which is not a file in {folder}; list files that exist, "
            f"relative to the project folder and comma-separated (e.g. {CONFIG_ENV}="
            "base.yaml,prod.yaml), or unset it to read prodml.yaml"
        )
    return file


class _Composer:
    """Files merged in turn into ``raw``, each value's origin in ``origins``."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.raw: dict[str, Any] = {}
        self.origins: dict[Key, Origin] = {}
        self.order: list[Path] = []

    def merge_file(self, file: Path, extending: tuple[Path, ...]) -> None:
        """Merge ``file``, after the files it extends."""
        file = file.resolve()
        if file in extending:
            chain = " extends ".join(f.name for f in (*extending, file))
            raise ConfigError(f"{chain}: a file cannot extend itself; remove one of the extends")
        loaded = read_file(file)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"{file.name} must be a mapping of keys (project, data, model, ...), "
                f"not a {type(loaded).__name__}"
            )
        for base in _bases(file, loaded.pop(EXTENDS, None)):
            self.merge_file(base, (*extending, file))
        variables: dict[Key, tuple[str, ...]] = {}
        resolved = self._resolved(loaded, file, (), variables)
        self._merge(self.raw, resolved, file, (), variables)
        self.order.append(file)

    def _merge(
        self,
        into: dict[str, Any],
        layer: dict[str, Any],
        file: Path,
        key: Key,
        variables: dict[Key, tuple[str, ...]],
    ) -> None:
        for name, value in layer.items():
            here = (*key, str(name))
            if isinstance(value, dict):
                if not isinstance(into.get(name), dict):
                    self._forget(here)
                    into[name] = {}
                self._merge(into[name], value, file, here, variables)
                continue
            self._forget(here)
            into[name] = value
            self.origins[here] = Origin(file, variables.get(here, ()))

    def _forget(self, key: Key) -> None:
        """Drop the origins of ``key`` and everything under it: a later file replaced it."""
        for known in [k for k in self.origins if k[: len(key)] == key]:
            del self.origins[known]

    def _resolved(
        self, tree: dict[Any, Any], file: Path, key: Key, variables: dict[Key, tuple[str, ...]]
    ) -> dict[Any, Any]:
        """``tree`` with every ``${...}`` of its text replaced; ``variables`` gets, for each
        value (anything but a mapping), the variables it read."""
        resolved = {}
        for name, value in tree.items():
            here = (*key, str(name))
            if isinstance(value, dict):
                resolved[name] = self._resolved(value, file, here, variables)
                continue
            read: list[str] = []
            resolved[name] = self._substituted(value, file, here, read)
            if read:
                variables[here] = tuple(dict.fromkeys(read))
        return resolved

    def _substituted(self, value: Any, file: Path, key: Key, read: list[str]) -> Any:
        if isinstance(value, list):
            return [self._substituted(item, file, key, read) for item in value]
        if isinstance(value, dict):  # a mapping inside a list
            return {k: self._substituted(v, file, key, read) for k, v in value.items()}
        if not isinstance(value, str) or "$" not in value:
            return value
        whole = _REFERENCE.fullmatch(value)
        text = _REFERENCE.sub(lambda m: self._variable(m, file, key, read), value)
        if whole is None or whole.group(1) is None:
            return text
        if not text.strip():
            return None
        try:  # a value that is only ${...}: the type its text has in YAML
            return read_yaml(text, file.name)
        except ConfigError:
            return text

    def _variable(self, match: re.Match[str], file: Path, key: Key, read: list[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:
            return "${"  # $${ stands for ${
        read.append(name)
        value = self.environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        raise ConfigError(
            f"{'.'.join(key)} in {file.name} reads ${{{name}}}, which is not set; set it "
            f"(export {name}=...) or give a default: ${{{name}:-value}}"
        )


def _bases(file: Path, bases: object) -> list[Path]:
    if bases is None:
        return []
    names = [bases] if isinstance(bases, str) else bases
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"{EXTENDS} in {file.name} is {shortened(repr(bases))}; give a file name or a list "
            "of them, relative to this file: extends: base.yaml"
        )
    found = []
    for name in names:
        base = file.parent / name
        if not base.is_file():
            raise ConfigError(
                f"{EXTENDS} in {file.name} names {name}, which is not a file in {file.parent}; "
                "give a file that exists, relative to this one"
            )
        found.append(base)
    return found
