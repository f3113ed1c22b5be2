"""gradstep's window (Qt). The stable API for automation and tests:

- ``MainWindow()``; ``window.open_scenario(path, trusted=None)`` (asynchronous);
- signals ``trace_ready()`` and ``load_failed(str)``;
- properties ``step_index``, ``step_count``, ``session``, ``trace``;
- QActions named ``action_open``, ``action_reload``, ``action_step_forward``,
  ``action_step_back``, ``action_first_step``, ``action_last_step``,
  ``action_presentation_mode``, ``action_export_graph``, ``action_copy_graph``,
  ``action_export_screenshot``, ``action_export_handout``, ``action_find``,
  ``action_collapse_all``, ``action_expand_all``, ``action_minimap`` (and the
  others in ``gradstep.gui.actions``);
- panels named ``graph_view``, ``code_view``, ``inspector``, ``variables``,
  ``timeline``, ``notes``, ``plots`` (each in a dock named ``dock_<panel>``);
- the graph panel's ``closed`` (modules drawn as boxes), ``open_box(path)``,
  ``reveal(node)``, ``marks`` (where a gradient first turns NaN/Inf) and its
  ``drawn`` signal (a new drawing is on screen; big layouts run in a thread).
"""

from gradstep.gui.main_window import MainWindow

__all__ = ["MainWindow"]
