# Sourced by scripts/test before the compatibility suites: Tests/compat/test_web_*.py drive
# Debian's Chromium through Debian's chromedriver (Selenium is handed both; it downloads
# neither). Needs: root and apt-get (Debian's archive reachable).

# Installs Debian's chromium and chromium-driver unless both `chromium` and `chromedriver` are
# already on the PATH; refreshes the package lists only if the install fails without doing so.
# Fails, saying what is missing, if either is still absent afterwards.
ensure_chromium() {
    local packages=(chromium chromium-driver)
    if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"; then
            apt-get update -qq || { echo "ensure_chromium: apt-get update failed" >&2; return 1; }
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" ||
                { echo "ensure_chromium: apt-get install ${packages[*]} failed" >&2; return 1; }
        fi
    fi
    local missing=() command
    for command in chromium chromedriver; do
        command -v "$command" >/dev/null 2>&1 || missing+=("$command")
    done
    if ((${#missing[@]})); then
        echo "ensure_chromium: still missing after apt-get: ${missing[*]}" >&2
        return 1
    fi
}
