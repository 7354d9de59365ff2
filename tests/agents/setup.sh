#!/usr/bin/env bash
# Installs (once) the coding-agent CLIs the suite runs through strait
# (tests/coding_agents.rs): the exact versions in tests/agents/package-lock.json,
# with `npm ci`, again only when package.json or the lock changed.
# They live at ${STRAIT_AGENTS_DIR:-target/agents} (relative to the repo root).
# The last line printed is the directory holding the `claude` and `codex`
# executables, for the Rust harness.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

dir="${STRAIT_AGENTS_DIR:-target/agents}"
case "$dir" in /*) ;; *) dir="$root/$dir" ;; esac
bin="$dir/node_modules/.bin"
stamp="$dir/.lock.sha256"

want="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ] \
    || [ ! -x "$bin/claude" ] || [ ! -x "$bin/codex" ]; then
    echo "setup.sh: installing the coding agents into $dir" >&2
    mkdir -p "$dir"
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    # No audit, funding or update notices: only the registry fetches the lock names.
    (cd "$dir" && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error >&2)
    echo "$want" > "$stamp"
fi

echo "$bin"
