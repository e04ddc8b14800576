#!/usr/bin/env bash
# Take the README screenshots of the demo data: docs/screenshots/*.png.
# Starts Xvfb on a free display with trayer as the tray host and, when dbus and gnome-keyring
# are installed, a private Secret Service, then runs `tokenwatch-desktop --demo` with the hook
# in packaging/screenshots.py. Needs the packages listed in tests/run.sh (xvfb, trayer, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
OUT=${1:-docs/screenshots}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

TMPD=$(mktemp -d)
cleanup() { kill "${TRAYER_PID:-}" "${XVFB_PID:-}" 2>/dev/null || true; rm -rf "$TMPD"; }
trap cleanup EXIT

. packaging/xvfb-tray.sh

# A throwaway home: the demo never writes history, and the settings dialog reads no real config.
mkdir -p "$TMPD/home"
export HOME="$TMPD/home" XDG_CONFIG_HOME="$TMPD/home/.config" XDG_DATA_HOME="$TMPD/home/.local/share" \
  XDG_STATE_HOME="$TMPD/home/.local/state" XDG_CACHE_HOME="$TMPD/home/.cache"
export QT_QPA_PLATFORM=xcb TOKENWATCH_SCREENSHOT_DIR="$OUT" \
  TOKENWATCH_DESKTOP_HOOK="$PWD/packaging/screenshots.py:take"
RUN=("$PYTHON" -m tokenwatch_desktop.app --demo)
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  dbus-run-session -- bash -c '
    printf "%s" "screenshots" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    exec timeout 120 "$@"' bash "${RUN[@]}" </dev/null
else
  timeout 120 "${RUN[@]}" </dev/null
fi
ls -l "$OUT"/*.png
