#!/usr/bin/env bash
# Creates (once) the virtualenv for the SDK conformance suite and installs
# tests/sdk/requirements.txt into it, again only when that file changed.
# The venv lives at ${STRAIT_SDK_VENV:-target/sdk-venv} (relative to the repo
# root). The last line printed is the venv's python, for the Rust harness.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

venv="${STRAIT_SDK_VENV:-target/sdk-venv}"
case "$venv" in /*) ;; *) venv="$root/$venv" ;; esac
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
python="$venv/bin/python"

if [ ! -x "$python" ]; then
    echo "setup.sh: creating venv at $venv" >&2
    "${PYTHON:-python3}" -m venv "$venv"
fi

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "setup.sh: installing $req" >&2
    "$python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
    echo "$want" > "$stamp"
fi

echo "$python"
