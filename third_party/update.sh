#!/usr/bin/env bash
# Re-vendors the patched Pingora crates at a given version:
#   third_party/update.sh 0.9.2      # fetch, patch, replace; then build and test
#   third_party/update.sh --check    # the tree here == pristine 0.9.1 + patches?
# Each crate is fetched from crates.io (the same .crate file cargo would use),
# unpacked, and patches/*.patch are applied in order with `patch -p1` from this
# directory. A patch that no longer applies stops the script: update it (or drop
# it, if upstream has the change) and say so in PATCHES.md.
set -euo pipefail
cd "$(dirname "$0")"
CRATES=(pingora-core pingora-proxy)
check=false
if [[ "${1:-}" == "--check" ]]; then
    check=true
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' pingora-core/Cargo.toml | head -1)
else
    version=${1:?usage: update.sh VERSION | --check}
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for crate in "${CRATES[@]}"; do
    curl -sSfL "https://static.crates.io/crates/$crate/$crate-$version.crate" \
        | tar -xz -C "$work"
    mv "$work/$crate-$version" "$work/$crate"
    # The crates' own lock files play no part in strait's build.
    rm -f "$work/$crate/Cargo.lock"
done
for p in patches/*.patch; do
    (cd "$work" && patch -p1 --no-backup-if-mismatch --quiet) <"$p"
done
if $check; then
    for crate in "${CRATES[@]}"; do
        diff -r "$work/$crate" "$crate"
    done
    echo "third_party matches Pingora $version + patches/"
    exit 0
fi
for crate in "${CRATES[@]}"; do
    rm -rf "$crate"
    mv "$work/$crate" "$crate"
done
echo "Pingora $version vendored with patches/. Now: set pingora = \"=$version\" in"
echo "Cargo.toml, cargo update -p pingora, cargo test --workspace, and the bench."
