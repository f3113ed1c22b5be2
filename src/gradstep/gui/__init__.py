"""gradstep's window (Qt). The stable API for automation and tests:

- ``MainWindow()``; ``window.open_scenario(path, trusted=None)`` (asynchronous);
- signals ``trace_ready()`` and ``load_failed(str)``;
- properties ``step_index``, ``step_count``, ``session``, ``trace``;
- QActions named ``action_open``, ``action_reload``, ``action_step_forward``,
  ``action_step_back``, ``action_first_step``, ``action_last_step``,
  ``action_presentation_mode`` (and the others in ``gradstep.gui.actions``);
- panels named ``graph_view``, ``code_view``, ``inspector``, ``variables``,
  ``timeline``, ``notes`` (each in a dock named ``dock_<panel>``).
"""

from gradstep.gui.main_window import MainWindow

__all__ = ["MainWindow"]
