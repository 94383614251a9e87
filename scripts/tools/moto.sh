#!/usr/bin/env bash
# Prints the path of a moto_server (the IAM emulator the tests talk to over HTTP), installing
# moto[server] into a private venv the first time. Idempotent: when the venv is complete it only prints.
#   bash scripts/tools/moto.sh            # installs if needed, prints /…/bin/moto_server
# Environment: MOTO_PYTHON (default python3.11, else python3), SESSION_GUARD_CACHE (default ~/.cache/session-guard).
set -euo pipefail

MOTO_VERSION=5.2.5
cache_dir="${SESSION_GUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/session-guard}"
venv="$cache_dir/venv-moto-$MOTO_VERSION"
server="$venv/bin/moto_server"
# Written last, so a venv whose install was interrupted is never taken for a complete one.
marker="$venv/.session-guard-complete"

if [[ -f "$marker" && -x "$server" ]]; then
  echo "$server"
  exit 0
fi

python="${MOTO_PYTHON:-}"
if [[ -z "$python" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then python=python3.11; else python=python3; fi
fi

mkdir -p "$cache_dir"
# Test files run in parallel; the lock makes the second one wait for the first install.
exec 9>"$cache_dir/venv-moto-$MOTO_VERSION.lock"
flock 9

if [[ ! -f "$marker" || ! -x "$server" ]]; then
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  "$venv/bin/python" -c "import moto; assert moto.__version__ == '$MOTO_VERSION', moto.__version__" >&2
  touch "$marker"
fi

echo "$server"
