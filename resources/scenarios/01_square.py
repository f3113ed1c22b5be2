"""y = x² at x = 3

The smallest backward pass there is: one leaf, one op, and the gradient
dy/dx = 2x = 6 landing in x.grad.
"""

# %% [markdown]
# ## One leaf, one op
#
# `requires_grad=True` is the switch that tells autograd to record every
# operation on `x`. `x` is a **leaf**: we made it ourselves, so it has no
# `grad_fn`. Squaring it builds the graph as the line runs
# ("define by run"): `y` gets `grad_fn = PowBackward0`.

# %%
import torch

x = torch.tensor(3.0, requires_grad=True)
y = x**2
print("x =", x)
print("y =", y)

# %% [markdown]
# ## Backward
#
# `y.backward()` walks the graph from `y` back to `x`. `PowBackward0`
# receives dy/dy = 1, multiplies it by its local derivative
# d(x²)/dx = 2x = 6, and the leaf's `AccumulateGrad` stores the result in
# `x.grad`, which was `None` until now.

# %%
y.backward()
print("x.grad =", x.grad)  # 2 * 3 = 6
