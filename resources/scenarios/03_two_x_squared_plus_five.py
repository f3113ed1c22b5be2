"""z = 2x² + 5 at x = 2

The chain rule through a product and an affine step: dz/dx = 2 · 2x = 8.
"""

# %% [markdown]
# ## Forward
#
# `y = x * x` uses `x` twice, so `MulBackward0` has two inputs that both come
# from the same leaf: the graph has two parallel edges from `x`. (The
# original note calls this node `PowBackward1`; PyTorch records `x * x` as a
# multiplication, `MulBackward0`.)

# %%
import torch

x = torch.tensor(2.0, requires_grad=True)
y = x * x  # y = 4
z = 2 * y + 5  # z = 13
print("y =", y)
print("z =", z)

# %% [markdown]
# ## Backward
#
# dz/dy = 2 (from `MulBackward0` of `2 * y`; adding 5 changes nothing), and
# dy/dx = x + x = 2x, one x per edge. Autograd sends 2·x = 4 along each edge
# and the leaf adds them up: 4 + 4 = 8 = 4x at x = 2.

# %%
z.backward()
print("x.grad =", x.grad)
