#!/usr/bin/env bash
# Set up and start TokenWatch Desktop from a clone on Debian or Ubuntu: Qt's system libraries,
# a .venv with the app, then the tray app (arguments are passed on, e.g. --demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/apt-deps.sh python3-venv libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 \
  libglib2.0-0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
  libxcb-render-util0 libxcb-shape0
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install . 2>&1 | { grep -v "WARNING: Location" || true; }
test "${PIPESTATUS[0]}" -eq 0
exec .venv/bin/tokenwatch-desktop "$@"
