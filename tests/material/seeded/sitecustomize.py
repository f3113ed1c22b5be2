"""Seed every random generator at interpreter start (only on PYTHONPATH for material runs).

Course files draw their starting weights with ``torch.randn``/``np.random``/``random``
and no seed. To compare a gradstep trace with a plain run of the same unchanged
file, both processes (the plain ``python`` run and gradstep's worker) start from
the same generator state; gradstep itself draws nothing before the scenario runs.
"""

import os
import random

_SEED = int(os.environ.get("GRADSTEP_MATERIAL_SEED", "0"))
random.seed(_SEED)
try:
    import numpy

    numpy.random.seed(_SEED)
except ImportError:
    pass
try:
    import torch

    torch.manual_seed(_SEED)
except ImportError:
    pass
