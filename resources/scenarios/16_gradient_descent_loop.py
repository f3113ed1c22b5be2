"""Gradient descent on x², one loop iteration at a time

Minimise f(x) = x² from x = 3 with a learning rate of 0.1: each iteration
takes the gradient 2x, steps against it and clears it, so x shrinks by a
factor of 0.8 per iteration: 2.4, 1.92, 1.536, 1.2288, 0.9830.
"""

# %% [markdown]
# ## The loop
#
# Every statement in the loop is a step of its own, each time it runs. Watch
# `x.grad` become 2x in the backward pass, `x` move against it in the update
# (inside `torch.no_grad()`, so the update is not part of any graph), and
# `x.grad` go back to 0 before the next iteration.

# %%
import torch

x = torch.tensor(3.0, requires_grad=True)
lr = 0.1
for step in range(5):
    loss = x**2
    loss.backward()
    with torch.no_grad():
        x -= lr * x.grad
    x.grad.zero_()
    print(f"step {step + 1}: x = {x.item():.4f}")

# %% [markdown]
# ## Where it ends
#
# After five steps x = 3 · 0.8⁵ = 0.9830, on its way to the minimum at 0.
# Without `x.grad.zero_()` the gradients would add up across iterations and
# the steps would grow instead of shrink.
