#!/usr/bin/env bash
# Install TokenWatch from this unpacked archive for the current user (or under PREFIX):
#   ./install.sh              # into ~/.local: opt/tokenwatch-desktop, bin, share
#   PREFIX=/usr/local sudo -E ./install.sh
#   ./install.sh --uninstall
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${PREFIX:-$HOME/.local}"
APP_DIR="$PREFIX/opt/tokenwatch-desktop"
SIZES="16 22 24 32 48 64 128 256"

refresh_caches() {
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$PREFIX/share/applications" || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$PREFIX/share/icons/hicolor" || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$APP_DIR"
  rm -f "$PREFIX/bin/tokenwatch-desktop" "$PREFIX/bin/tokenwatch" \
        "$PREFIX/share/applications/tokenwatch-desktop.desktop" \
        "$PREFIX/share/metainfo/tokenwatch-desktop.metainfo.xml" \
        "$PREFIX/share/icons/hicolor/scalable/apps/tokenwatch-desktop.svg"
  for size in $SIZES; do rm -f "$PREFIX/share/icons/hicolor/${size}x${size}/apps/tokenwatch-desktop.png"; done
  refresh_caches
  echo "TokenWatch removed from $PREFIX (settings and history in ~/.config and ~/.local/share/TokenWatch are kept)."
  exit 0
fi

mkdir -p "$APP_DIR" "$PREFIX/bin" "$PREFIX/share/applications" "$PREFIX/share/metainfo"
rm -rf "$APP_DIR/_internal"
cp -a "$HERE/tokenwatch-desktop" "$HERE/tokenwatch" "$HERE/_internal" "$APP_DIR/"
ln -sf "$APP_DIR/tokenwatch-desktop" "$PREFIX/bin/tokenwatch-desktop"
ln -sf "$APP_DIR/tokenwatch" "$PREFIX/bin/tokenwatch"

# Exec gets the absolute path: ~/.local/bin is not on every desktop session's PATH.
sed "s|^Exec=tokenwatch-desktop|Exec=$APP_DIR/tokenwatch-desktop|" \
  "$HERE/share/applications/tokenwatch-desktop.desktop" > "$PREFIX/share/applications/tokenwatch-desktop.desktop"
cp "$HERE/share/metainfo/tokenwatch-desktop.metainfo.xml" "$PREFIX/share/metainfo/"
for size in $SIZES; do
  mkdir -p "$PREFIX/share/icons/hicolor/${size}x${size}/apps"
  cp "$HERE/share/icons/hicolor/${size}x${size}/apps/tokenwatch-desktop.png" "$PREFIX/share/icons/hicolor/${size}x${size}/apps/"
done
mkdir -p "$PREFIX/share/icons/hicolor/scalable/apps"
cp "$HERE/share/icons/hicolor/scalable/apps/tokenwatch-desktop.svg" "$PREFIX/share/icons/hicolor/scalable/apps/"
refresh_caches

echo "TokenWatch installed in $APP_DIR; start it from the application menu or run $PREFIX/bin/tokenwatch-desktop."
case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) echo "Add $PREFIX/bin to PATH to run tokenwatch from a terminal.";; esac
