# Sourced by scripts/test and the bench/ scripts that drive the built server from Python.
# Expects $root (the repository). Needs: python3 with venv; reaches PyPI.

# The virtualenv with the real clients and the runner the compat suites need
# (Tests/compat/requirements.txt), made anew whenever that file changes; sets $venv.
ensure_compat_venv() {
    venv="${LATCHKEY_VENV:-$root/.venv-compat}"
    local requirements="$root/Tests/compat/requirements.txt"
    if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
        cp "$requirements" "$venv/requirements.txt"
    fi
}

# For a bench run: the debug binary (built unless LATCHKEY_BIN names one), a throwaway
# PostgreSQL unless $1 is "true" (SQLite only) or LATCHKEY_TEST_POSTGRES_URL names one,
# and the virtualenv.
prepare_compat_bench() {
    if [ -z "${LATCHKEY_BIN:-}" ]; then
        swift build --product latchkey
        LATCHKEY_BIN="$(swift build --show-bin-path)/latchkey"
    fi
    export LATCHKEY_BIN
    if [ "$1" = true ]; then
        unset LATCHKEY_TEST_POSTGRES_URL
    else
        source "$root/scripts/test-postgres.sh"
        start_test_postgres
    fi
    ensure_compat_venv
}
