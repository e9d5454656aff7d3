#!/usr/bin/env bash
# The fuzz suite with a bench-sized budget: Tests/compat/test_fuzz.py (every route, hostile
# requests, a hypothesis state machine; no request may crash the server or answer 5xx) and
# Tests/compat/test_logs_hold_no_secrets.py, on SQLite and PostgreSQL.
#
#   bench/fuzz.sh [--requests N] [--sqlite-only]      (default: 100000 requests per backend)
#
# Builds latchkey in debug mode, as scripts/test does (set LATCHKEY_BIN to a binary already
# built to skip the build), starts a throwaway PostgreSQL 15 unless LATCHKEY_TEST_POSTGRES_URL
# names one (scripts/test-postgres.sh), makes the compat virtualenv as scripts/test does, and
# runs pytest. Fuzz failures list every request that crashed the server or answered 5xx.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

source "$root/scripts/compat-env.sh"
read_bench_arguments requests bench/fuzz.sh 100000 "$@"
prepare_compat_bench "$sqlite_only"

LATCHKEY_FUZZ_REQUESTS=$count "$venv/bin/python" -m pytest -q -s -p no:cacheprovider \
    "$root/Tests/compat/test_fuzz.py" "$root/Tests/compat/test_logs_hold_no_secrets.py"
