#!/usr/bin/env bash
# CI step for the vault crate: runs all its tests with CI=true, so the Postgres suite
# (DATABASE_URL) and the Node Web Crypto interop test fail instead of skipping when their
# service or tool is missing. Idempotent; builds into the shared target directory.
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/target}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export CI=true

if ! command -v node >/dev/null; then
    echo "vault CI: node is required for the Web Crypto interop test (install nodejs >= 18)" >&2
    exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
    echo "vault CI: node $(node --version) is too old; crypto.subtle needs node >= 18" >&2
    exit 1
fi

cargo test -p vault
