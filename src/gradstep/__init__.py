"""gradstep: a step-through debugger for PyTorch's backward pass."""

#: The one place the version is written: the wheel's metadata reads it from here
#: (``[tool.hatch.version]`` in pyproject.toml) and ``gradstep --version`` prints it.
__version__ = "0.1.0"
