#!/usr/bin/env bash
# Check a built desktop bundle the way a user meets it: outside the checkout, with
# nothing of it on the path. Then, if Xvfb is installed, open the window on the
# default lesson on a virtual display and save a screenshot.
#
#   bash packaging/smoke-bundle.sh [BUNDLE_DIR]     # default build/bundle/dist/gradstep
#
# Xvfb and the libraries of Qt's xcb plugin (Debian): xvfb libxkbcommon-x11-0
# libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUNDLE=$(cd "${1:-$ROOT/build/bundle/dist/gradstep}" && pwd)
APP="$BUNDLE/gradstep"
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
XVFB_PID=""
APP_PID=""
cleanup() {
  # only what this script started
  if [ -n "$APP_PID" ]; then kill "$APP_PID" 2>/dev/null || true; fi
  if [ -n "$XVFB_PID" ]; then kill "$XVFB_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
cd "$WORK"
unset PYTHONPATH

step() { printf '%-44s' "$1"; }
step "version";          "$APP" --version
step "lessons";          "$APP" lessons >lessons.txt
grep -q "05_logistic_regression_bce.py" lessons.txt && echo "$(grep -c '^ *[0-9]' lessons.txt) lessons"
step "trace 05 (worker started by the bundle)"
t0=$(date +%s%N)
"$APP" trace 05 >trace.txt
grep -q BinaryCrossEntropyBackward0 trace.txt
echo "ok, $(grep -c . trace.txt) lines in $((($(date +%s%N) - t0) / 1000000)) ms"
step "export 05 --step 20";  "$APP" export 05 --step 20 -o out.png >/dev/null
head -c 4 out.png | grep -q PNG && echo "ok, out.png $(wc -c <out.png) bytes"
step "doctor";           "$APP" doctor >doctor.txt && grep '^gradstep is' doctor.txt | cut -c16-
step "no display: the window is refused";
if env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$APP" 2>err.txt; then
  echo "FAILED: the window started without a display"; exit 1
else
  echo "exit $? with: $(cut -c1-60 err.txt)..."
fi

if ! command -v Xvfb >/dev/null 2>&1; then
  echo "no Xvfb: the window was not tried"
  exit 0
fi
SHOT=${SHOT:-$ROOT/build/bundle/screenshot.png}
display=:$((90 + RANDOM % 100))
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
sleep 1
DISPLAY=$display "$APP" >app.log 2>&1 &
APP_PID=$!
sleep "${WAIT:-25}"  # the worker's torch import, the trace, the layout
if ! kill -0 "$APP_PID" 2>/dev/null; then
  echo "FAILED: the window exited early:"; cat app.log; exit 1
fi
DISPLAY=$display "$PYTHON" "$ROOT/packaging/screenshot.py" "$SHOT"
echo "window: open on the default lesson; screenshot $SHOT"
DISPLAY=$display "$APP" doctor | grep '^window'
