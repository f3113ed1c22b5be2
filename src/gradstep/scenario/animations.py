"""matplotlib's animations for restricted scenarios: built and drawn, never encoded.

Lecture notebooks animate gradient descent with ``FuncAnimation`` and show it
with ``HTML(anim.to_html5_video())`` or ``anim.save("descent.gif")``. Building
an animation is pure plotting (gradstep captures the figure at the step that
drew it); encoding it runs ffmpeg or ImageMagick and writes files. So while a
restricted scenario runs, matplotlib's own ``Animation.save``,
``to_html5_video`` and ``to_jshtml`` (every animation class and every
``super()`` call goes through them) raise at the scenario's line saying so;
a ``--trust`` run keeps matplotlib's behaviour. The movie writers are not
handed out at all (:data:`gradstep.scenario.libraries.ANIMATION_NAMES`).

Not the boundary: the audit guard refuses the processes and file writes too,
and the worker's walls hold whatever gets past both.
"""

from __future__ import annotations

import sys
from typing import Any

from gradstep.scenario.audit import restricted_now
from gradstep.scenario.errors import TRUST_HINT

#: the Animation methods that encode frames, and what they do
DOORS: dict[str, str] = {
    "save": "runs ffmpeg, ImageMagick or Pillow's writer and writes a file",
    "to_html5_video": "runs ffmpeg and writes a video file",
    "to_jshtml": "writes the frames as files",
}

_MARK = "_gradstep_door"


def _door(original: Any, method: str) -> Any:
    why = DOORS[method]

    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        if restricted_now():
            raise PermissionError(
                f"{type(self).__name__}.{method}() {why}, which a restricted scenario may not; "
                f"gradstep shows the figure at the steps that draw it; {TRUST_HINT}"
            )
        return original(self, *args, **kwargs)

    checked.__name__ = checked.__qualname__ = method
    checked.__doc__ = original.__doc__
    setattr(checked, _MARK, True)
    return checked


def install() -> bool:
    """Guard the encoding methods of ``matplotlib.animation.Animation`` if that module is
    loaded (idempotent); whether it is."""
    module = sys.modules.get("matplotlib.animation")
    if module is None:
        return False
    animation = module.Animation
    for method in DOORS:
        original = getattr(animation, method)
        if not getattr(original, _MARK, False):
            setattr(animation, method, _door(original, method))
    return True
