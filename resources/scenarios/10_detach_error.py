"""detach() cuts the graph

z = x.detach() shares x's value but has no history. Backward through y = x²
reaches x (x.grad = 4); backward through y1 = z² fails: there is no graph.
"""

# %% [markdown]
# ## A tracked and a detached copy
#
# `x.detach()` returns a new tensor that shares the data of `x` but is cut
# from the graph: `requires_grad=False`, no `grad_fn`. Useful for logging,
# plotting, or feeding a value into code that must not affect the gradients.

# %%
import torch

x = torch.tensor(2.0, requires_grad=True)
z = x.detach()
y = x**2  # tracked: y has a grad_fn
y1 = z**2  # not tracked: z has no history
print("y =", y)
print("y1 =", y1)

# %% [markdown]
# ## Backward through the tracked branch works

# %%
y.backward()
print("x.grad =", x.grad)

# %% [markdown]
# ## Backward through the detached branch fails
#
# `y1` has no `grad_fn`, so there is nothing to walk back through. PyTorch
# stops with *element 0 of tensors does not require grad and does not have a
# grad_fn*. The error is the last step of this scenario.

# %%
y1.backward()
