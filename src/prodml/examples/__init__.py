"""Example projects, and the blank template that ``prodml init`` starts from.

Each example is a folder of package data, ``<name>/prodml.yaml`` and
``<name>/README.md``, copied into the new project, plus a function that writes the
example's data set into the project's ``data/`` folder. Without an example, the
project gets the commented template in ``blank/`` and no data.

>>> EXAMPLES
('breast-cancer', 'digits', 'loans')
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from prodml.errors import NotFoundError, ProdmlError, did_you_mean, listing, shortened

EXAMPLES: tuple[str, ...] = ("breast-cancer", "digits", "loans")

_BLANK = "blank"
_COPIED = (".yaml", ".md", ".py")  # the files of an example folder that a project gets
_GITIGNORE = ".prodml/\n"
# File systems take names of up to 255 bytes; the staging folder's name adds 14.
NAME_LIMIT = 200


def create_project(path: Path, example: str | None = None) -> Path:
    """Create a project folder at ``path``, from ``example`` or the blank template.

    ``path`` must not exist yet or be an empty folder; missing parents are created.
    The project is assembled in a hidden folder next to ``path`` and moved into place
    at the end, so a failure leaves no half-made project behind. Returns the
    project's absolute path.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     project = create_project(Path(tmp) / "cancer", "breast-cancer")
    ...     sorted(p.name for p in project.iterdir())
    ['.gitignore', 'README.md', 'data', 'prodml.yaml']
    """
    if example is not None and example not in EXAMPLES:
        raise NotFoundError(
            f"example '{example}' is not known; examples are: "
            f"{listing(EXAMPLES)}{did_you_mean(example, EXAMPLES)}"
        )
    _check_names(path)
    target = path.resolve()
    _check_free(target)
    staging = target.parent / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as exc:  # a parent that is a file, no permission...
        raise ProdmlError(f"cannot create {target}: {exc.strerror}") from None
    try:
        _fill(staging, example)
        if target.exists():
            # an empty folder (perhaps the working directory): move the files into it
            for item in staging.iterdir():
                item.rename(target / item.name)
            staging.rmdir()
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _check_names(path: Path) -> None:
    for name in path.parts:
        size = len(os.fsencode(name))
        if "\0" in name or size > NAME_LIMIT:
            raise ProdmlError(
                f"folder name {shortened(repr(name))} ({size} bytes) is not allowed: a folder "
                f"name has at most {NAME_LIMIT} bytes and any characters but '/' and NUL; "
                "choose another name"
            )


def _check_free(target: Path) -> None:
    if target.is_dir():
        if any(target.iterdir()):
            raise ProdmlError(
                f"folder {target} is not empty; choose a new folder name or remove it"
            )
    elif target.exists():
        raise ProdmlError(f"{target} is a file, not a folder; choose a new folder name")


def _fill(folder: Path, example: str | None) -> None:
    template = resources.files(__name__) / (example or _BLANK)
    for item in template.iterdir():
        if item.name.endswith(_COPIED):
            (folder / item.name).write_bytes(item.read_bytes())
    (folder / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")
    if example is not None:
        data = folder / "data"
        data.mkdir()
        _WRITERS[example](data)


# The writers import numpy, pandas and scikit-learn when called: `prodml --help` stays quick.


def _write_breast_cancer(data: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    names = [str(name).replace(" ", "_") for name in bunch.feature_names]
    frame = pd.DataFrame(bunch.data, columns=names)
    frame.insert(0, "patient_id", np.arange(1, len(frame) + 1))
    frame["diagnosis"] = np.asarray(bunch.target_names)[bunch.target]
    frame.to_csv(data / "breast_cancer.csv", index=False)


def _write_digits(data: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = np.asarray(bunch.data).astype(np.int64)
    frame = pd.DataFrame(pixels, columns=[f"pixel_{i}" for i in range(pixels.shape[1])])
    frame.insert(0, "image_id", np.arange(1, len(frame) + 1))
    frame["digit"] = np.asarray(bunch.target).astype(np.int64)
    frame.to_csv(data / "digits.csv", index=False)


def _write_loans(data: Path) -> None:
    from prodml.data.loans import generate_loans, underwriter_labels

    loans = generate_loans()
    loans.to_parquet(data / "loans.parquet", index=False)
    underwriter_labels(loans).to_csv(data / "underwriters.csv", index=False)


_WRITERS: dict[str, Callable[[Path], None]] = {
    "breast-cancer": _write_breast_cancer,
    "digits": _write_digits,
    "loans": _write_loans,
}
