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

# A bench script's arguments: `--NAME N` (a whole number from 1 to 10,000,000, default
# $3) and `--sqlite-only`; sets $count and $sqlite_only, or prints the usage of $2 and exits 2.
read_bench_arguments() {
    local name=$1 script=$2
    count=$3
    sqlite_only=false
    shift 3
    while [ $# -gt 0 ]; do
        case "$1" in
            "--$name") count=${2:-}; shift; [ $# -eq 0 ] || shift ;;
            --sqlite-only) sqlite_only=true; shift ;;
            *) count=bad; break ;;
        esac
    done
    if ! [[ $count =~ ^[1-9][0-9]{0,6}$ || $count == 10000000 ]]; then
        echo "usage: $script [--$name N] [--sqlite-only]   (N from 1 to 10000000)" >&2
        exit 2
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
