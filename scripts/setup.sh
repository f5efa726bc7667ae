#!/usr/bin/env bash
# Set up linreg on a fresh machine: Graphviz's `dot` (for computation-graph images) and Chromium
# (for the browser test of the MLflow UI), a virtualenv in .venv with linreg, its tools and the
# scale-out extras, and the MLflow store's schema.  Safe to run again.
#   LINREG_PYTHON  the Python to build the venv from (default: python3; 3.11 or newer)
#   LINREG_TORCH   the torch requirement (default: torch==2.13.0, a CPU build)
#   LINREG_EXTRAS  linreg's optional extras beside dev (default: ui,ray,optuna,slurm, which the
#                  slow tests use; "" for none: those tests then skip)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${LINREG_PYTHON:-python3}
torch_req=${LINREG_TORCH:-torch==2.13.0}
extras=${LINREG_EXTRAS-ui,ray,optuna,slurm}

say() { printf 'setup: %s\n' "$*"; }

# 1. System packages, installed where we may (one apt-get update for all): Graphviz (without it
#    runs still complete and log the graph's DOT source) and, for the ui extra, Debian's Chromium
#    (Playwright drives it; its own browser downloads are never used).
need=()
if command -v dot >/dev/null 2>&1; then say "graphviz: $(dot -V 2>&1)"; else need+=(graphviz); fi
if [[ ",$extras," == *,ui,* ]]; then
  if [ -x /usr/bin/chromium ]; then
    say "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
  else
    need+=(chromium)
  fi
fi
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo -n"
    say "installing ${need[*]} with apt-get"
    { $sudo_ apt-get update -qq >/dev/null \
      && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null; } \
      || say "WARNING: apt-get could not install ${need[*]}; graphs will be DOT source only without" \
             "graphviz, and the browser test skips without chromium"
  elif command -v brew >/dev/null 2>&1 && [[ " ${need[*]} " == *" graphviz "* ]]; then
    say "installing graphviz with brew"; brew install graphviz || true
  else
    say "WARNING: cannot install ${need[*]} here (no apt-get as root or sudo): computation graphs"
    say "         are logged as DOT source only without graphviz, and the browser test of the MLflow"
    say "         UI skips without chromium (install the 'graphviz' and 'chromium' packages)"
  fi
fi

# 2. The virtualenv (pip + venv: pip honours a local torch wheel; uv and poetry would download a
#    multi-GB CUDA build).
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($python --version 2>&1)"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
say "installing $torch_req and linreg (editable) with its dev tools${extras:+ and extras $extras}"
.venv/bin/python -m pip install -q "$torch_req" -e ".[dev${extras:+,$extras}]"

# 3. The MLflow store's schema, once, before any parallel worker could race to create it.
.venv/bin/python -c "from linreg.tracking import open_store, resolve_uri; s = open_store(resolve_uri(), 'linreg'); print('setup: mlflow store', s.uri)" 2>&1 | grep -v "INFO mlflow" || true
say "done: activate with 'source .venv/bin/activate', or use the make targets"
