#!/bin/sh
# Install gradstep's desktop entry, icons, file types and AppStream data for the
# current user (under ${XDG_DATA_HOME:-~/.local/share}); nothing needs root.
#
#   sh install-desktop.sh [--exec COMMAND] [--uninstall]
#
# --exec   the command the menu entry runs (default: the gradstep found on PATH,
#          written as an absolute path, since a desktop session's PATH often lacks
#          ~/.local/bin or a venv); for the desktop bundle, its gradstep executable.
#
# Works from a checkout (packaging/linux/) and from an installed wheel, which
# carries these files in gradstep/resources/linux/ next to gradstep/resources/icons/.
set -eu

APP_ID=io.github.gradstep.Gradstep
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${XDG_DATA_HOME:-$HOME/.local/share}
EXEC=""
UNINSTALL=0

while [ $# -gt 0 ]; do
  case "$1" in
    --exec) EXEC=$2; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install-desktop.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

if [ -d "$HERE/../icons" ]; then ICONS=$HERE/../icons; else ICONS=$HERE/../../resources/icons; fi

refresh() {
  # each cache is optional: a desktop without the tool reads the files directly
  if command -v update-mime-database >/dev/null 2>&1; then update-mime-database "$DATA/mime"; fi
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$DATA/applications"; fi
  # no icon-theme.cache in a user folder: a stale one hides icons other programs add later
}

if [ "$UNINSTALL" = 1 ]; then
  rm -f "$DATA/applications/$APP_ID.desktop" "$DATA/metainfo/$APP_ID.metainfo.xml" \
    "$DATA/mime/packages/gradstep-scenarios.xml" "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
  for png in "$DATA"/icons/hicolor/*/apps/"$APP_ID".png; do rm -f "$png"; done
  refresh
  echo "gradstep: desktop integration removed from $DATA"
  exit 0
fi

if [ -z "$EXEC" ]; then
  EXEC=$(command -v gradstep || true)
  if [ -z "$EXEC" ]; then
    echo "install-desktop.sh: no gradstep on PATH; say which with --exec /path/to/gradstep" >&2
    exit 2
  fi
fi
case "$EXEC" in /*) ;; *) EXEC=$(cd "$(dirname "$EXEC")" && pwd)/$(basename "$EXEC") ;; esac
if [ ! -x "$EXEC" ]; then
  echo "install-desktop.sh: $EXEC is not an executable" >&2
  exit 2
fi

mkdir -p "$DATA/applications" "$DATA/metainfo" "$DATA/mime/packages" "$DATA/icons/hicolor/scalable/apps"
# Exec and TryExec name the command by its absolute path (quoted if it has spaces)
case "$EXEC" in *" "*) QEXEC="\"$EXEC\"" ;; *) QEXEC=$EXEC ;; esac
sed -e "s|^Exec=gradstep |Exec=$QEXEC |" -e "s|^TryExec=gradstep\$|TryExec=$EXEC|" \
  "$HERE/$APP_ID.desktop" >"$DATA/applications/$APP_ID.desktop"
cp "$HERE/$APP_ID.metainfo.xml" "$DATA/metainfo/"
cp "$HERE/gradstep-scenarios.xml" "$DATA/mime/packages/"
cp "$ICONS/gradstep.svg" "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
for png in "$ICONS"/hicolor/*/apps/gradstep.png; do
  size=$(basename "$(dirname "$(dirname "$png")")")
  mkdir -p "$DATA/icons/hicolor/$size/apps"
  cp "$png" "$DATA/icons/hicolor/$size/apps/$APP_ID.png"
done
refresh
echo "gradstep: desktop integration installed in $DATA (menu entry runs $EXEC)"
