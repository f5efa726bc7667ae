#!/usr/bin/env bash
# Set up linreg to run its pipeline (`dvc repro`, `make ui`, sweeps) on a fresh machine:
# Graphviz's `dot` (for computation-graph images), a virtualenv in .venv with linreg and its
# required dependencies, and the MLflow store's schema.  What only the tests need (dev tools,
# Chromium, the scale-out extras) is scripts/setup-tests.sh's job, which `make test` runs.
# Safe to run again, and quick: pip is skipped while .venv holds what this run would install.
#   LINREG_PYTHON     the Python to build the venv from (default: python3; 3.11 or newer)
#   LINREG_TORCH      the torch requirement (default: torch==2.13.0, a CPU build)
#   LINREG_EXTRAS     linreg's optional extras to install too (default: none; e.g. ray,optuna)
#   LINREG_REINSTALL  1 to run pip even where .venv looks up to date
set -euo pipefail
cd "$(dirname "$0")/.."
python=${LINREG_PYTHON:-python3}
torch_req=${LINREG_TORCH:-torch==2.13.0}
extras=${LINREG_EXTRAS-}
stamp=.venv/.linreg-setup.stamp

say() { printf 'setup: %s\n' "$*"; }
. scripts/setup-lib.sh

# 1. Graphviz, installed where we may (without it runs still complete and log the graph's DOT
#    source).
if command -v dot >/dev/null 2>&1; then
  say "graphviz: $(dot -V 2>&1)"
elif can_apt; then
  apt_install graphviz \
    || say "WARNING: apt-get could not install graphviz; graphs will be DOT source only"
elif command -v brew >/dev/null 2>&1; then
  say "installing graphviz with brew"; brew install graphviz || true
else
  say "WARNING: cannot install graphviz here (no apt-get as root or sudo): computation graphs"
  say "         are logged as DOT source only (install the 'graphviz' package)"
fi

# 2. The virtualenv (pip + venv: pip honours a local torch wheel; uv and poetry would download a
#    multi-GB CUDA build).
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($python --version 2>&1)"
  "$python" -m venv .venv
fi
key=$(install_key "$torch_req" "$extras")
if stamp_ok "$stamp" "$key" \
  && .venv/bin/python -c 'import importlib.metadata as m; m.distribution("linreg")' 2>/dev/null; then
  say "skipping pip: .venv already has $torch_req and linreg${extras:+ with extras $extras}" \
      "(LINREG_REINSTALL=1 to reinstall)"
else
  .venv/bin/python -m pip install -q --upgrade pip
  say "installing $torch_req and linreg (editable)${extras:+ with extras $extras}"
  .venv/bin/python -m pip install -q "$torch_req" -e ".${extras:+[$extras]}"
  stamp_write "$stamp" "$key"
fi

# 3. The MLflow store's schema, once, before any parallel worker could race to create it.
.venv/bin/python -c "from linreg.tracking import open_store, resolve_uri; s = open_store(resolve_uri(), 'linreg'); print('setup: mlflow store', s.uri)" 2>&1 | grep -v "INFO mlflow" || true
say "done: activate with 'source .venv/bin/activate', or use the make targets"
say "(the tests need more: 'make test' adds it on its first run, see scripts/setup-tests.sh)"
