#!/usr/bin/env bash
# Set up and run every check on a Debian/Ubuntu machine. System packages come from apt (as root
# or with sudo) and the project with its test tools goes into .venv. Then: ruff, mypy, install and
# packaging smoke tests, the desktop suite under Xvfb with a tray host and a real Secret Service
# (gnome-keyring), and the offscreen suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

# Qt's runtime libraries (offscreen and xcb), Xvfb and a tray host, D-Bus and gnome-keyring.
bash packaging/apt-deps.sh python3-venv libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 \
  libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 \
  libxcb-shape0 libxkbcommon-x11-0 xvfb xauth trayer dbus gnome-keyring binutils

# Python environment: the project with its test and development extras.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[dev]' 2>&1 | { grep -v "WARNING: Location" || true; }
test "${PIPESTATUS[0]}" -eq 0
.venv/bin/python -c "import PySide6, sys; print('PySide6', PySide6.__version__, 'Python', sys.version.split()[0])"

# Static checks.
.venv/bin/ruff check tokenwatch_desktop tests bench
.venv/bin/mypy tokenwatch_desktop/core tokenwatch_desktop/providers


# Install smoke test: a plain `pip install .` into a fresh venv, run from another directory with
# an empty home, must print exactly one JSON document.
SMOKE=$(mktemp -d)
TMPD=$(mktemp -d)
cleanup() { kill "${TRAYER_PID:-}" "${XVFB_PID:-}" 2>/dev/null || true; rm -rf "$TMPD" "$SMOKE"; }
trap cleanup EXIT
python3 -m venv "$SMOKE/venv"
"$SMOKE/venv/bin/pip" install -q . 2>&1 | { grep -v "WARNING: Location" || true; }
test "${PIPESTATUS[0]}" -eq 0
mkdir -p "$SMOKE/home"
(cd "$SMOKE" && env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$SMOKE/home" \
  "$SMOKE/venv/bin/tokenwatch" all --demo --json >"$SMOKE/out.json")
.venv/bin/python -c "import json, sys; doc = json.load(open(sys.argv[1])); assert doc['demo'] is True; print('install smoke test: one JSON document,', len(doc['accounts']), 'accounts')" "$SMOKE/out.json"

# The same fresh install passes --self-check (offscreen) with a real Secret Service.
env -u DISPLAY HOME="$SMOKE/home" XDG_CONFIG_HOME="$SMOKE/home/.config" \
  XDG_DATA_HOME="$SMOKE/home/.local/share" QT_QPA_PLATFORM=offscreen dbus-run-session -- bash -c '
    printf "%s" "smoke-keyring-password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    cd / && exec "$1/venv/bin/tokenwatch-desktop" --self-check' bash "$SMOKE" </dev/null \
  2> >(grep -v "Failed to set fd limit" >&2)

# Packaging smoke test: build the PyInstaller bundle, run its --self-check against gnome-keyring
# and a demo run of its `tokenwatch` binary.
PYTHON=.venv/bin/python ARCHIVE=0 bash packaging/build.sh

# Desktop suite: Xvfb on a free display, trayer as the tray host, gnome-keyring in a private
# D-Bus session with a throwaway home.
PYTHON=.venv/bin/python . packaging/xvfb-tray.sh
mkdir -p "$TMPD/home"
HOME="$TMPD/home" XDG_DATA_HOME="$TMPD/home/.local/share" QT_QPA_PLATFORM=xcb \
  dbus-run-session -- bash -c '
    printf "%s" "test-keyring-password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    exec .venv/bin/python -m pytest -m desktop -q' </dev/null \
  2> >(grep -v "Failed to set fd limit" >&2)
kill "$TRAYER_PID" "$XVFB_PID" 2>/dev/null || true
unset DISPLAY

# Offscreen suite, last so that its summary closes the run: everything but the tests that need a
# real display and Secret Service.
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -m "not desktop" -q

