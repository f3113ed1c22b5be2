"""requires_grad_(False): freezing a tensor

After x.requires_grad_(False), x is a constant to autograd: y = x² has no
grad_fn and backward fails. The baseline before the switch gives x.grad = 4.
"""

# %% [markdown]
# ## Baseline
#
# x = 2 with tracking on: y = x², dy/dx = 2x = 4.

# %%
import torch

x = torch.tensor(2.0, requires_grad=True)
y = x**2
y.backward()
print("baseline x.grad =", x.grad)

# %% [markdown]
# ## Switching tracking off, in place
#
# `requires_grad_(False)` changes the tensor itself (the underscore means in
# place). This is how layers are frozen when fine-tuning: their parameters
# stop receiving gradients. Only leaves can be switched like this.

# %%
x.requires_grad_(False)
y = x**2
print("y =", y, " y.grad_fn =", y.grad_fn)

# %% [markdown]
# ## Backward fails
#
# `y` is a constant now, so there is no graph to walk back through.

# %%
y.backward()
