"""Logistic regression with F.binary_cross_entropy

The same neuron with PyTorch's own loss: one BinaryCrossEntropyBackward0 node
instead of a handful of ops, and the same gradients, w.grad = 6.6918 and
b.grad = 0.9988, checked against the chain rule by hand.
"""

# %% [markdown]
# ## Setup
#
# The data (x = 6.7, label y = 0) does not require gradients; the weight and
# the bias do.

# %%
import torch
import torch.nn.functional as F

x = torch.tensor(6.7)
y = torch.tensor(0.0)
w = torch.tensor(1.0, requires_grad=True)
b = torch.tensor(0.0, requires_grad=True)
print(f"initial weight {w.item()}, initial bias {b.item()}")

# %% [markdown]
# ## Forward pass
#
# The linear step, the sigmoid, and the library's binary cross-entropy. The
# target `y` needs no gradient, so the loss node has one input only.

# %%
z = w * x + b
y_pred = torch.sigmoid(z)
loss = F.binary_cross_entropy(y_pred, y)
print(f"y_pred = {y_pred.item():.4f}, loss = {loss.item():.4f}")

# %% [markdown]
# ## Backward pass
#
# Step through it: the loss node sends dL/dŷ = (ŷ − y)/(ŷ(1 − ŷ)) to the
# sigmoid, the sigmoid multiplies by ŷ(1 − ŷ), and the product reaches the
# addition that feeds `b` and the multiplication that feeds `w`.

# %%
loss.backward()
print(f"w.grad = {w.grad.item():.4f}")
print(f"b.grad = {b.grad.item():.4f}")

# %% [markdown]
# ## The chain rule by hand
#
# The three links, each a plain number. Their product equals `w.grad`, and
# the first two cancel to ŷ − y: dL/dw = (ŷ − y)·x.

# %%
p = y_pred.detach()
dloss_dy_pred = (p - y) / (p * (1 - p))
dy_pred_dz = p * (1 - p)
dz_dw = x
dz_db = 1
dL_dw = dloss_dy_pred * dy_pred_dz * dz_dw
dL_db = dloss_dy_pred * dy_pred_dz * dz_db
print(f"by hand: dL/dw = {dL_dw.item():.4f}, dL/db = {dL_db.item():.4f}")
