#!/usr/bin/env bash
# Set up linreg on a fresh machine: Graphviz's `dot` (for computation-graph images), a virtualenv
# in .venv with linreg and its tools, and the MLflow store's schema.  Safe to run again.
#   LINREG_PYTHON  the Python to build the venv from (default: python3; 3.11 or newer)
#   LINREG_TORCH   the torch requirement (default: torch==2.13.0, a CPU build)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${LINREG_PYTHON:-python3}
torch_req=${LINREG_TORCH:-torch==2.13.0}

say() { printf 'setup: %s\n' "$*"; }

# 1. Graphviz: a system package, so install it where we may; without it runs still complete and
#    log the graph's DOT source.
if command -v dot >/dev/null 2>&1; then
  say "graphviz: $(dot -V 2>&1)"
elif command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo -n"
  say "installing graphviz with apt-get"
  $sudo_ apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq graphviz >/dev/null \
    || say "WARNING: apt-get could not install graphviz; computation graphs will be DOT source only"
elif command -v brew >/dev/null 2>&1; then
  say "installing graphviz with brew"; brew install graphviz || true
else
  say "WARNING: Graphviz's 'dot' is missing and cannot be installed here; computation graphs will be"
  say "         logged as DOT source only (install the 'graphviz' package for PNG images)"
fi

# 2. The virtualenv (pip + venv: pip honours a local torch wheel; uv and poetry would download a
#    multi-GB CUDA build).
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($python --version 2>&1)"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
say "installing $torch_req and linreg (editable) with its dev tools"
.venv/bin/python -m pip install -q "$torch_req" -e ".[dev]"

# 3. The MLflow store's schema, once, before any parallel worker could race to create it.
.venv/bin/python -c "from linreg.tracking import open_store, resolve_uri; s = open_store(resolve_uri(), 'linreg'); print('setup: mlflow store', s.uri)" 2>&1 | grep -v "INFO mlflow" || true
say "done: activate with 'source .venv/bin/activate', or use the make targets"
