#!/usr/bin/env bash
# How fast a revocation or a deactivation reaches a server's token cache from elsewhere:
# bench/propagation.py starts two `latchkey serve` nodes on one PostgreSQL database (revoke on
# one, time until the other refuses; `user deactivate` from the CLI, time until a node refuses)
# and one server on SQLite (the CLI's deactivation, heard through the file's data_version), and
# prints the median, p90 and max of each over N rounds. Exits 1 if a change never arrived.
#
#   bench/propagation.sh [--rounds N] [--sqlite-only]      (default: 20 rounds per case)
#
# Builds latchkey in debug mode, as scripts/test does (set LATCHKEY_BIN to a binary already
# built to skip the build), starts a throwaway PostgreSQL 15 unless LATCHKEY_TEST_POSTGRES_URL
# names one (scripts/test-postgres.sh), and makes the compat virtualenv as scripts/test does.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

source "$root/scripts/compat-env.sh"
read_bench_arguments rounds bench/propagation.sh 20 "$@"
prepare_compat_bench "$sqlite_only"

"$venv/bin/python" "$root/bench/propagation.py" --bin "$LATCHKEY_BIN" --rounds "$count" \
    ${LATCHKEY_TEST_POSTGRES_URL:+--postgres "$LATCHKEY_TEST_POSTGRES_URL"}
