"""Gradients accumulate: 4, then 8, then zero

Calling backward twice without clearing adds the second gradient to the
first: x.grad goes 4 → 8. x.grad.zero_() resets it.
"""

# %% [markdown]
# ## The first backward
#
# y = x² at x = 2, so dy/dx = 2x = 4 and `x.grad` goes from `None` to 4.

# %%
import torch

x = torch.tensor(2.0, requires_grad=True)
y = x**2
y.backward()
print("after the first backward:", x.grad)

# %% [markdown]
# ## The second backward, without zeroing
#
# A new graph, the same gradient 4, but `AccumulateGrad` **adds** it to what
# `x.grad` already holds: 4 + 4 = 8. This is on purpose (summing gradients
# over several batches or the steps of an RNN relies on it), and it is the
# most common bug in training loops that forget to zero.

# %%
y = x**2
y.backward()
print("after the second backward:", x.grad)

# %% [markdown]
# ## Clearing
#
# `x.grad.zero_()` sets the gradient to 0 in place (the trailing underscore
# means "in place"). In a training loop `optimizer.zero_grad()` does this for
# every parameter before each backward.

# %%
x.grad.zero_()
print("after zero_():", x.grad)
