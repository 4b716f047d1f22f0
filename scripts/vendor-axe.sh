#!/usr/bin/env bash
# Refresh the vendored axe-core (the report's accessibility test): scripts/vendor-axe.sh 4.14.1
# Needs npm. Copies axe.min.js and its licences into tests/vendor/axe-core/ and prints the checksum
# to record in tests/vendor/axe-core/VENDORED.md.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: scripts/vendor-axe.sh VERSION}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "axe-core@${version}" --silent >/dev/null && tar xzf "axe-core-${version}.tgz")
cp "$work/package/axe.min.js" "$work/package/LICENSE" "$work/package/LICENSE-3RD-PARTY.txt" tests/vendor/axe-core/
sha256sum tests/vendor/axe-core/axe.min.js
