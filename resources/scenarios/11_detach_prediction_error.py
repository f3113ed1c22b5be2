"""Detaching a prediction: no gradient reaches W

A linear model Y_pred = X @ W. Built from Y_pred the loss sends a gradient to
W; built from Y_pred.detach() it has no graph at all, and backward fails.
"""

# %% [markdown]
# ## A linear model
#
# Ten weights, five samples. `Y_pred = X @ W` is tracked because `W`
# requires grad.

# %%
import torch

torch.manual_seed(0)
W = torch.randn(10, 1, requires_grad=True)
X = torch.randn(5, 10)
Y_pred = X @ W

# %% [markdown]
# ## Without detach
#
# loss = Σ Y_pred², so dloss/dW = Xᵀ · 2·Y_pred: every weight gets a
# gradient.

# %%
loss = torch.sum(Y_pred**2)
loss.backward()
print("W.grad =", W.grad.flatten())

# %% [markdown]
# ## With detach ("Line A")
#
# `Y_pred.detach()` has the same values and no history, so the loss built
# from it does not require grad: `W.grad` cannot be computed, and backward
# fails right away.

# %%
Y_pred_detached = Y_pred.detach()  # Line A
loss = torch.sum(Y_pred_detached**2)  # Line B
print("loss requires grad:", loss.requires_grad)
loss.backward()
