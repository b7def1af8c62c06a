# Sourced by each benchmark's run.sh, from the repo root: prodml's interpreter and the
# environments the peers run in.
#
#   source benchmarks/peer_venv.sh
#   peer_venv NAME IMPORTS [REQUIREMENT...]
#
# prodml runs in its own environment ($PRODML_PYTHON, default .venv/bin/python). A peer
# runs in $venvs/NAME: peer_venv leaves it as it is when `import IMPORTS, sklearn, pandas`
# works there, and otherwise creates it anew from the base Python of prodml's env and pip
# installs the REQUIREMENTs with NAME, scikit-learn, numpy, scipy and pandas pinned to their
# versions in prodml's env (or unpinned, where prodml's env lacks one), so that both sides
# see the same rows and run the same scikit-learn code.

prodml_python=${PRODML_PYTHON:-.venv/bin/python}
venvs=benchmarks/.venvs

peer_venv() {
    local name=$1 imports=$2 venv=$venvs/$1
    shift 2
    if "$venv/bin/python" -c "import $imports, sklearn, pandas" 2>/dev/null; then
        return 0
    fi
    echo "creating $venv (one time)" >&2
    local base pins
    base=$("$prodml_python" -c 'import sys; print(sys._base_executable)')
    pins=$("$prodml_python" -c 'import sys
from importlib.metadata import PackageNotFoundError, version
def pin(name):
    try:
        return f"{name}=={version(name)}"
    except PackageNotFoundError:
        return name
print(" ".join(pin(n) for n in sys.argv[1:]))' "$name" scikit-learn numpy scipy pandas)
    rm -rf "$venv"
    "$base" -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check $pins "$@" 2>&1 \
        | { grep -v "^WARNING: Location" || true; } >&2
}

# Evidently's environment, shared by the drift and monitor benchmarks: Evidently 0.7.23
# with pandas 2 (it does not import under pandas 3); sets $evidently_python.
evidently_venv() {
    peer_venv evidently evidently "evidently==0.7.23"
    evidently_python=$venvs/evidently/bin/python
    if ! "$evidently_python" -c "import evidently" 2>/dev/null; then
        echo "installing pandas 2 in $venvs/evidently (one time)" >&2
        "$venvs/evidently/bin/pip" install --quiet --disable-pip-version-check "pandas>=2.2,<3" 2>&1 \
            | { grep -v "^WARNING: Location" || true; } >&2
    fi
}
