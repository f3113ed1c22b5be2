"""Logistic regression, by hand and by autograd

One neuron, one sample: z = w·x + b, ŷ = σ(z), binary cross-entropy written
by hand. The chain rule dL/dŷ · dŷ/dz · dz/dw gives w.grad = 6.6918 and
b.grad = 0.9988, and autograd agrees.
"""

# %% [markdown]
# ## The data and the model
#
# One feature x = 6.7 with the true label y = 0. Only the parameters `w`
# and `b` require gradients: the data is given, we only want to change our
# own guesses. Starting from w = 1 and b = 0 the model is very sure of the
# wrong answer, so the loss is large.

# %%
import torch

x = torch.tensor(6.7)
y = torch.tensor(0.0)
w = torch.tensor(1.0, requires_grad=True)
b = torch.tensor(0.0, requires_grad=True)

# %% [markdown]
# ## Binary cross-entropy, written by hand
#
#     L = −[y·ln ŷ + (1 − y)·ln(1 − ŷ)]
#
# The prediction is clamped to [ε, 1 − ε] first so that ln never sees 0.
# The clamp is an op too: it passes the gradient through unchanged while the
# prediction is inside the range.


# %%
def binary_cross_entropy_loss(prediction, target):
    epsilon = 1e-8
    prediction = torch.clamp(prediction, epsilon, 1 - epsilon)
    return -(target * torch.log(prediction) + (1 - target) * torch.log(1 - prediction))


# %% [markdown]
# ## Forward pass

# %%
z = w * x + b
y_pred = torch.sigmoid(z)
loss = binary_cross_entropy_loss(y_pred, y)
print(f"z = {z.item():.4f}, y_pred = {y_pred.item():.4f}, loss = {loss.item():.4f}")

# %% [markdown]
# ## Backward pass with autograd

# %%
loss.backward()
print(f"w.grad = {w.grad.item():.4f}")
print(f"b.grad = {b.grad.item():.4f}")

# %% [markdown]
# ## The same chain rule by hand
#
#     dL/dw = dL/dŷ · dŷ/dz · dz/dw
#
# - dL/dŷ = (ŷ − y) / (ŷ(1 − ŷ)), the derivative of the loss,
# - dŷ/dz = ŷ(1 − ŷ), the derivative of the sigmoid,
# - dz/dw = x and dz/db = 1.
#
# The first two cancel to ŷ − y, so dL/dw = (ŷ − y)·x and dL/db = ŷ − y.
# These are computed from `y_pred.detach()`, plain numbers outside the graph.

# %%
p = y_pred.detach()
dloss_dy_pred = (p - y) / (p * (1 - p))
dy_pred_dz = p * (1 - p)
dz_dw = x
dz_db = 1
dL_dw = dloss_dy_pred * dy_pred_dz * dz_dw
dL_db = dloss_dy_pred * dy_pred_dz * dz_db
print(f"by hand: dL/dw = {dL_dw.item():.4f}, dL/db = {dL_db.item():.4f}")

# %% [markdown]
# ## Clearing the gradients
#
# Gradients accumulate, so they are zeroed before the next step.

# %%
w.grad.zero_()
b.grad.zero_()
print("w.grad =", w.grad, " b.grad =", b.grad)
