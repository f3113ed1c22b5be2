"""How large a recording may grow, written once: the recorder's defaults, which the worker's
``Limits`` and its environment variables override."""

MAX_STEPS = 200_000  # steps of the trace (GRADSTEP_MAX_STEPS)
MAX_NODES = 100_000  # autograd nodes captured
