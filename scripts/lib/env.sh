# Shared environment for scripts/*: sourced, not executed.
# - CARGO_TARGET_DIR defaults to a persistent cache outside the checkout so repeated runs are incremental.
# - A Python venv with moto, cfn-lint, cargo-lambda, ... is created (or refreshed when
#   tests/requirements.txt changes) under $PAS_CACHE/venv.
set -euo pipefail

PAS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PAS_CACHE="${PAS_CACHE:-$HOME/.cache/port-aws-sync}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PAS_CACHE/target}"
export PAS_VENV="${PAS_VENV:-$PAS_CACHE/venv}"
export PAS_ROOT PAS_CACHE

pas_log() { printf '==> %s\n' "$*" >&2; }

pas_python_bin() {
  local candidate
  for candidate in python3 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "error: python3 (3.9 or newer) is required; install it (e.g. apt-get install python3 python3-venv)" >&2
  return 1
}

pas_ensure_venv() {
  local req="$PAS_ROOT/tests/requirements.txt"
  local stamp="$PAS_VENV/.requirements.sha256"
  local want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [[ -x "$PAS_VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    :
  else
    pas_log "creating Python venv at $PAS_VENV (moto, boto3, jsonschema, cfn-lint, cargo-lambda)"
    local py
    py="$(pas_python_bin)"
    rm -rf "$PAS_VENV"
    "$py" -m venv "$PAS_VENV"
    "$PAS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$PAS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
  fi
  export PATH="$PAS_VENV/bin:$PATH"
  export PAS_PYTHON="$PAS_VENV/bin/python"
}

pas_ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo (Rust 1.95 or newer) is required: https://rustup.rs" >&2
    return 1
  fi
}
