# Shared by scripts/setup.sh and scripts/setup-tests.sh (sourced, not run): messages, apt-get
# where we may, and the stamps that let a second run skip pip.  Expects `say` to be defined and
# the current directory to be the repository root.

# can_apt: apt-get is here and we are root or have password-less sudo.
can_apt() {
  command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }
}

# apt_install PKG...: one apt-get update, then install; returns non-zero where it could not.
apt_install() {
  local sudo_=""
  [ "$(id -u)" = 0 ] || sudo_="sudo -n"
  say "installing $* with apt-get"
  $sudo_ apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "$@" >/dev/null
}

# install_key WORD...: a hash of what decides what pip installs: the venv's Python, the parts of
# pyproject.toml that pip reads ([build-system], [project], [tool.setuptools]; not the ruff or
# pytest settings), the calling script, and the words given (the torch requirement, the extras).
install_key() {
  {
    .venv/bin/python - <<'EOF'
import hashlib, json, sys, tomllib
with open("pyproject.toml", "rb") as f:
    d = tomllib.load(f)
parts = {"build-system": d.get("build-system"), "project": d.get("project"),
         "setuptools": d.get("tool", {}).get("setuptools")}
print(sys.version)
print(hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest())
EOF
    sha256sum "scripts/$(basename "$0")" | cut -d' ' -f1
    printf '%s\n' "$@"
  } | sha256sum | cut -d' ' -f1
}

# stamp_ok FILE KEY: FILE holds KEY (a previous run installed exactly this) and no reinstall is
# asked for (LINREG_REINSTALL=1).
stamp_ok() {
  [ "${LINREG_REINSTALL:-0}" != 1 ] && [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

# stamp_write FILE KEY, after a successful install.
stamp_write() {
  printf '%s\n' "$2" >"$1.tmp" && mv "$1.tmp" "$1"
}
