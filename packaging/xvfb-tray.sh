# Source this file: start Xvfb on a free display and trayer as the tray host, then wait until
# Qt sees a system tray. Needs TMPD (a scratch folder) and PYTHON (one with PySide6); sets
# DISPLAY, XVFB_PID and TRAYER_PID. The caller stops both processes.
exec 3>"$TMPD/display"
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp >"$TMPD/xvfb.log" 2>&1 &
XVFB_PID=$!
exec 3>&-
for _ in $(seq 100); do [ -s "$TMPD/display" ] && break; sleep 0.05; done
export DISPLAY=":$(cat "$TMPD/display")"
trayer --edge bottom --align right --widthtype request --height 32 --SetDockType true \
  --transparent false --tint 0x404040 >"$TMPD/trayer.log" 2>&1 &
TRAYER_PID=$!
for _ in $(seq 50); do
  QT_QPA_PLATFORM=xcb "$PYTHON" -c "from PySide6.QtWidgets import QApplication as A, QSystemTrayIcon as T; a=A([]); raise SystemExit(not T.isSystemTrayAvailable())" 2>/dev/null && break
  sleep 0.1
done
