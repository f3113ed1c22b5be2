"""Test-wide environment: Qt draws offscreen, and no test touches the user's settings."""

import os
import tempfile

# Before anything imports Qt: without a display Qt would abort the run instead of failing.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="gradstep-test-config-")
