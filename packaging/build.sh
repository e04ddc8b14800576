#!/usr/bin/env bash
# Build the PyInstaller one-folder bundle, run the bundle's own --self-check (offscreen, with a
# real Secret Service: gnome-keyring in a private D-Bus session), smoke-test the `tokenwatch`
# binary in demo mode, and pack dist/tokenwatch-desktop-<version>-linux-<arch>.tar.gz.
#
#   packaging/build.sh                 # uses .venv/bin/python, or PYTHON=/path/to/python
#   ARCHIVE=0 packaging/build.sh       # build and check only
#
# Needs: pyinstaller in that Python's environment, binutils (objdump), dbus (dbus-run-session)
# and gnome-keyring. Build from a venv with PySide6-Essentials only (see build.spec).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
ARCHIVE="${ARCHIVE:-1}"
BUNDLE=dist/tokenwatch-desktop

for tool in objdump dbus-run-session gnome-keyring-daemon; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing; install binutils, dbus and gnome-keyring" >&2; exit 1; }
done

start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN build.spec
echo "built $BUNDLE in $(( $(date +%s) - start )) s, $(du -sh "$BUNDLE" | cut -f1)"

# A throwaway home: a fresh login keyring every run (a reused one with another password stays
# locked), and no settings of the person building.
CHECK_HOME=$(mktemp -d)
trap 'rm -rf "$CHECK_HOME"' EXIT
env -u DISPLAY -u WAYLAND_DISPLAY HOME="$CHECK_HOME" XDG_CONFIG_HOME="$CHECK_HOME/.config" \
  XDG_DATA_HOME="$CHECK_HOME/.local/share" XDG_CACHE_HOME="$CHECK_HOME/.cache" \
  XDG_STATE_HOME="$CHECK_HOME/.local/state" QT_QPA_PLATFORM=offscreen \
  dbus-run-session -- bash -c '
    printf %s "bundle-self-check" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    timeout 120 "$1/tokenwatch-desktop" --self-check
    timeout 120 "$1/tokenwatch" all --demo --json > "$HOME/demo.json"
    "$1/tokenwatch" --help >/dev/null
  ' bash "$PWD/$BUNDLE" </dev/null 2> >(grep -v "Failed to set fd limit" >&2)
"$PYTHON" - "$CHECK_HOME/demo.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
bad = [a["id"] for a in report["accounts"] if a["status"] != "ok"]
if not report["demo"] or bad:
    sys.exit(f"bundle demo report is not ok: accounts {bad}")
print(f"ok   bundle demo: {len(report['accounts'])} accounts, billed total {report['total']['cost']}")
PY

[ "$ARCHIVE" = 1 ] || exit 0
VERSION=$("$PYTHON" -c "import tokenwatch_desktop; print(tokenwatch_desktop.__version__)")
NAME="tokenwatch-desktop-$VERSION-linux-$(uname -m)"
STAGE="dist/$NAME"
rm -rf "$STAGE"
cp -a "$BUNDLE" "$STAGE"
install -D -m 644 resources/tokenwatch-desktop.desktop "$STAGE/share/applications/tokenwatch-desktop.desktop"
install -D -m 644 resources/tokenwatch-desktop.metainfo.xml "$STAGE/share/metainfo/tokenwatch-desktop.metainfo.xml"
install -D -m 644 resources/tokenwatch.svg "$STAGE/share/icons/hicolor/scalable/apps/tokenwatch-desktop.svg"
for size in 16 22 24 32 48 64 128 256; do
  install -D -m 644 "tokenwatch_desktop/resources/tokenwatch-$size.png" \
    "$STAGE/share/icons/hicolor/${size}x${size}/apps/tokenwatch-desktop.png"
done
install -m 755 packaging/install.sh "$STAGE/install.sh"
install -m 644 packaging/README-linux.txt "$STAGE/README.txt"
tar -C dist -czf "dist/$NAME.tar.gz" "$NAME"
rm -rf "$STAGE"
echo "archive dist/$NAME.tar.gz, $(du -h "dist/$NAME.tar.gz" | cut -f1)"
