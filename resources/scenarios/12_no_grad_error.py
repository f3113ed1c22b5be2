"""torch.no_grad(): results computed inside are not tracked

Inside a no_grad block, y = x² has no history, even though x requires grad.
Outside, tracking resumes: x.grad = 4. Backward through the inner y fails.
"""

# %% [markdown]
# ## A temporary zone without tracking
#
# `with torch.no_grad():` switches recording off for everything computed in
# the block. It is what evaluation and inference code uses: no graph is
# built, which saves memory and time.

# %%
import torch

x = torch.tensor(2.0, requires_grad=True)
with torch.no_grad():
    y = x**2
    print("inside no_grad, y.requires_grad =", y.requires_grad)

# %% [markdown]
# ## Outside, tracking resumes
#
# New operations on `x` are recorded again: dy/dx = 2x = 4.

# %%
y_outside = x**2
y_outside.backward()
print("x.grad =", x.grad)

# %% [markdown]
# ## The inner result has no graph
#
# `y` was computed while recording was off, so backward from it fails.

# %%
y.backward()
