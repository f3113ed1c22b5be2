#!/usr/bin/env bash
# Build the Linux desktop bundle: one folder holding the gradstep executable, Python,
# torch (CPU), Qt and the lessons, runnable without installing anything else but the
# system libraries Qt needs (see packaging/README.md).
#
#   bash packaging/build-bundle.sh [OUT]      # default OUT=build/bundle
#   -> OUT/dist/gradstep/gradstep             # run it; tar the folder to ship it
#
# Builds in its own virtual environment (OUT/venv, made once and reused) holding only
# gradstep, its pinned dependencies and PyInstaller, so nothing else installed on the
# machine ends up in the bundle. $PYTHON (default python3) makes that venv.
# Minutes and ~770 MB; figures in packaging/README.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/build/bundle}" && cd "${1:-$ROOT/build/bundle}" && pwd)
PYTHON=${PYTHON:-python3}
PYINSTALLER_VERSION=6.22.3
VENV="$OUT/venv"

start=$(date +%s)
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
unset PYTHONPATH  # the checkout as installed into the venv, nothing else
"$VENV/bin/pip" install -q --disable-pip-version-check "$ROOT" "pyinstaller==$PYINSTALLER_VERSION"
installed=$(date +%s)
# the lessons, icons and desktop files as the wheel installed them (PyInstaller's
# --collect-data would leave out the lessons: it takes .py files for modules)
RESOURCES=$("$VENV/bin/python" -c "import gradstep.resources as r; print(r.resources_dir())")

"$VENV/bin/python" -m PyInstaller --noconfirm --clean --onedir --log-level WARN \
  --name gradstep \
  --distpath "$OUT/dist" --workpath "$OUT/work" --specpath "$OUT" \
  --collect-submodules gradstep \
  --add-data "$RESOURCES:gradstep/resources" \
  --copy-metadata gradstep --copy-metadata torch --copy-metadata PySide6-Essentials \
  --copy-metadata pyqtgraph --copy-metadata numpy --copy-metadata networkx \
  --exclude-module tkinter \
  "$ROOT/packaging/pyinstaller/gradstep_entry.py"
# torch's hook also collects its C++ test programs and tools (~130 MB) that nothing runs;
# torch_shm_manager stays: import torch looks for it
TORCH="$OUT/dist/gradstep/_internal/torch"
rm -rf "$TORCH/test"
find "$TORCH/bin" -mindepth 1 -maxdepth 1 ! -name torch_shm_manager -exec rm -rf {} +
end=$(date +%s)

APP="$OUT/dist/gradstep/gradstep"
"$APP" --version
echo "bundle: $OUT/dist/gradstep ($(du -sh "$OUT/dist/gradstep" | cut -f1));" \
  "venv $((installed - start)) s, PyInstaller $((end - installed)) s"
echo "check it: bash packaging/smoke-bundle.sh $OUT/dist/gradstep"
