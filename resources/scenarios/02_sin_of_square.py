"""z = sin(x²) at x = 4: the chain rule

Two ops in a row. Autograd multiplies the local derivatives on the way back,
dz/dx = cos(x²)·2x = −7.6613, and only the leaf keeps its gradient unless
you ask for the intermediate's with retain_grad().
"""

# %% [markdown]
# ## The chain rule by hand
#
# With y = x² and z = sin(y):
#
#     dz/dx = dz/dy · dy/dx = cos(y) · 2x = cos(x²) · 2x
#
# At x = 4 that is 8 · cos(16) ≈ −7.66.

# %%
import math

import torch


def dz_dx(x):
    return 2 * x * math.cos(x**2)


print("by hand:", dz_dx(4))

# %% [markdown]
# ## The same with autograd
#
# Two nodes this time: `PowBackward0` for y = x², `SinBackward0` for
# z = sin(y). On the way back, `SinBackward0` multiplies the incoming 1 by
# cos(16); `PowBackward0` multiplies that by 2·4 = 8.

# %%
x = torch.tensor(4.0, requires_grad=True)
y = x**2
z = torch.sin(y)
z.backward()
print("x.grad =", x.grad)

# %% [markdown]
# ## Why is `y.grad` None?
#
# `y` is an intermediate (non-leaf) tensor. Its gradient dz/dy did flow
# through the graph, but autograd frees it once it has been used: only
# leaves keep `.grad`. Reading `y.grad` gives `None` (and a warning).

# %%
print("y.grad =", y.grad)

# %% [markdown]
# ## Keeping an intermediate gradient
#
# `y.retain_grad()` asks autograd to keep dz/dy = cos(16) on `y`: handy for
# debugging and for lectures, not needed for training. We rebuild the graph
# (the first one was freed by the backward pass) and zero `x.grad` first,
# or the new gradient would be added to the old one.

# %%
x.grad.zero_()
y = x**2
y.retain_grad()
z = torch.sin(y)
z.backward()
print("y.grad (dz/dy) =", y.grad)
print("x.grad (dz/dx) =", x.grad)
