"""gradstep: a step-through debugger for PyTorch's backward pass."""

__version__ = "0.1.0"
