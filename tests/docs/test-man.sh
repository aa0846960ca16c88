#!/bin/bash
# The man pages as a reader gets them: each renders without a warning, and
# migd.conf(5) documents exactly the keys migd takes, with migd's defaults
# and ranges (migd --dump-conf-keys reads them from conf.c's table).
# Needs MIGD and MAN_BUILDDIR (set by `make check`).
set -u

: "${MIGD:?run through make check, or set MIGD to the migd binary}"
: "${MAN_BUILDDIR:?run through make check, or set MAN_BUILDDIR to the built docs/man}"

. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"

T=$(mktemp -d /tmp/migd-man.XXXXXX)
trap 'rm -rf "$T"' EXIT

# render PAGE: the page as man shows it, one line a paragraph, in ASCII.
render() {
    LC_ALL=C MANWIDTH=1000 man --warnings -l "$MAN_BUILDDIR/$1" 2>"$T/warnings"
}

for page in migd.8 migctl.1 migd.conf.5 migd-hook.8 migd-plugin-check.1; do
    name=${page%.*}
    if ! render "$page" > "$T/$page.txt"; then
        not_ok "$page renders"
        sed 's/^/# /' "$T/warnings"
    elif [ -s "$T/warnings" ]; then
        not_ok "$page renders without warnings"
        sed 's/^/# /' "$T/warnings"
    elif ! grep -q "^       $name - " "$T/$page.txt"; then
        not_ok "$page renders with its NAME line"
    else
        ok "$page renders without warnings"
    fi
done

# The keys of migd.conf(5): "GROUP KEY = DEFAULT (RANGE)" under each
# "[GROUP]" heading, "GROUP KEY" for the named groups (GROUP ending in .NAME).
awk '
    /^[^ ]/ { group = "" }
    /^   \[[a-zA-Z.]+\]$/ { group = substr($1, 2, length($1) - 2); next }
    group != "" && /^       [a-z_]+( = .*)?$/ { sub(/^ +/, ""); print group " " $0 }
' "$T/migd.conf.5.txt" > "$T/documented"
"$MIGD" --dump-conf-keys > "$T/table"

if [ "$(wc -l < "$T/table")" -lt 40 ]; then
    not_ok "migd --dump-conf-keys lists the keys of conf.c's table"
    sed 's/^/# /' "$T/table"
else
    ok "migd --dump-conf-keys lists the keys of conf.c's table ($(wc -l < "$T/table"))"
fi
if diff -u "$T/table" "$T/documented" > "$T/diff"; then
    ok "migd.conf(5) documents every key with migd's default and range, and no other"
else
    not_ok "migd.conf(5) documents every key with migd's default and range, and no other"
    echo "# --- migd --dump-conf-keys, +++ migd.conf(5):"
    sed 's/^/# /' "$T/diff"
fi

tap_finish
