"""Exports: figures of the graph (``figure``), files written atomically (``files``), the
handout's Markdown (``handout``) and PDF book (``book``), the window's dialogs
(``dialogs``) and export actions (``commands``), and the headless ``gradstep export``
and ``gradstep handout`` commands (``headless``).
"""
