"""Test-wide environment: Qt draws offscreen, and no test touches the user's settings."""

import atexit
import os
import shutil
import tempfile

# Before anything imports Qt: without a display Qt would abort the run instead of failing.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_CONFIG = tempfile.mkdtemp(prefix="gradstep-test-config-")
os.environ["XDG_CONFIG_HOME"] = _CONFIG
atexit.register(shutil.rmtree, _CONFIG, ignore_errors=True)
