#!/usr/bin/env bash
# Crash safety with a bench-sized number of rounds: Tests/compat/test_crash_safety.py kills
# the server with SIGKILL in the middle of a burst of token creations and revocations,
# restarts it on the same database, and checks that every acknowledged creation still
# authenticates and every acknowledged revocation still holds; on SQLite and PostgreSQL.
#
#   bench/crash.sh [--rounds N] [--sqlite-only]      (default: 20 rounds per backend)
#
# Builds latchkey in debug mode, as scripts/test does (set LATCHKEY_BIN to a binary already
# built to skip the build), starts a throwaway PostgreSQL 15 unless LATCHKEY_TEST_POSTGRES_URL
# names one (scripts/test-postgres.sh), makes the compat virtualenv as scripts/test does, and
# runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

source "$root/scripts/compat-env.sh"
read_bench_arguments rounds bench/crash.sh 20 "$@"
prepare_compat_bench "$sqlite_only"

LATCHKEY_CRASH_ROUNDS=$count "$venv/bin/python" -m pytest -q -s -p no:cacheprovider \
    "$root/Tests/compat/test_crash_safety.py"
