"""The recorder's own reading of tensors, outside the scenario's ``__torch_function__``.

A scenario that calls ``torch.set_default_device`` (PyTorch's polynomial tutorial does)
runs every torch call through a Python mode; so did every ``numel()``, ``tolist()`` and
comparison the recorder made to snapshot, encode and summarise, which was most of the
recording's cost of a 2,000-round loop. The recorder only reads values and copies them
(on the tensor's own device), so it does that with torch functions and modes turned
off: a tensor subclass's or a mode's Python code is the scenario's, not the recorder's.
"""

from __future__ import annotations

import torch

#: ``with aside():`` around the recorder's bookkeeping (a C context manager: ~0.1 µs)
aside = torch._C.DisableTorchFunction
