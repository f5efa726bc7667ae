#!/usr/bin/env bash
# Add what only the tests (and `make lint`) need to the .venv that scripts/setup.sh made: linreg's
# dev tools (pytest, pytest-xdist, ruff), the scale-out extras the slow tests use (Ray, Optuna,
# submitit, Playwright) and, for the browser test of the MLflow UI, Debian's Chromium (Playwright
# drives it; its own browser downloads are never used).  `make test`, `make test-fast` and
# `make lint` run it first.  Safe to run again, and quick: pip is skipped while .venv holds what
# this run would install.
#   LINREG_TORCH       the torch requirement (default: torch==2.13.0, as scripts/setup.sh)
#   LINREG_TEST_EXTRAS linreg's extras beside dev (default: ui,ray,optuna,slurm; "" for none: the
#                      tests that need them then skip, saying which extra to install)
#   LINREG_REINSTALL   1 to run pip even where .venv looks up to date
set -euo pipefail
cd "$(dirname "$0")/.."
torch_req=${LINREG_TORCH:-torch==2.13.0}
extras=${LINREG_TEST_EXTRAS-ui,ray,optuna,slurm}
stamp=.venv/.linreg-tests.stamp

say() { printf 'setup-tests: %s\n' "$*"; }
. scripts/setup-lib.sh

# 0. The pipeline's set-up first, where it was never run.
if [ ! -x .venv/bin/python ]; then
  say "no .venv yet: running scripts/setup.sh first"
  bash scripts/setup.sh
fi

# 1. Chromium for the ui extra's browser test, installed where we may.
if [[ ",$extras," == *,ui,* ]]; then
  if [ -x /usr/bin/chromium ]; then
    say "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
  elif can_apt; then
    apt_install chromium \
      || say "WARNING: apt-get could not install chromium; the browser test will skip"
  else
    say "WARNING: cannot install chromium here (no apt-get as root or sudo): the browser test of"
    say "         the MLflow UI skips (install Debian's 'chromium' package)"
  fi
fi

# 2. The dev tools and the extras, into the same .venv.
key=$(install_key "$torch_req" "$extras")
if stamp_ok "$stamp" "$key" && [ -x .venv/bin/pytest ] && [ -x .venv/bin/ruff ]; then
  say "skipping pip: .venv already has linreg's dev tools${extras:+ and extras $extras}" \
      "(LINREG_REINSTALL=1 to reinstall)"
else
  say "installing linreg's dev tools${extras:+ and extras $extras} (editable, with $torch_req)"
  .venv/bin/python -m pip install -q "$torch_req" -e ".[dev${extras:+,$extras}]"
  stamp_write "$stamp" "$key"
fi
