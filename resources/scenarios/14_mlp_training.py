"""A small MLP trained for two SGD steps

Four samples, a 2 → 3 → 1 network with a tanh, mean squared error. Each step
is the training loop's three lines: optimizer.zero_grad(), loss.backward(),
optimizer.step(). The loss goes down from the first step to the second.
"""

# %% [markdown]
# ## Data and model
#
# Four points of y = x₁ − x₂. `nn.Sequential` names its layers by position:
# the parameters are `model.0.weight`, `model.0.bias`, `model.2.weight` and
# `model.2.bias`. Each `nn.Linear` becomes an `AddmmBackward0` node (bias +
# input · weightᵀ) with a `TBackward0` in front of its weight.

# %%
import torch
import torch.nn as nn

torch.manual_seed(0)
X = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
Y = torch.tensor([[-1.0], [1.0], [0.0], [1.0]])
model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
loss_fn = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

# %% [markdown]
# ## Step 1
#
# Zero the gradients, run the model forward, measure the loss, send the
# gradient back to every parameter, and let the optimizer move each
# parameter against its gradient: p ← p − 0.1 · p.grad.

# %%
optimizer.zero_grad()
prediction = model(X)
loss = loss_fn(prediction, Y)
loss.backward()
optimizer.step()
print(f"step 1: loss = {loss.item():.4f}")

# %% [markdown]
# ## Step 2
#
# The same four lines on the updated parameters. `zero_grad()` matters:
# without it the new gradients would be added to the old ones.

# %%
optimizer.zero_grad()
prediction = model(X)
loss = loss_fn(prediction, Y)
loss.backward()
optimizer.step()
print(f"step 2: loss = {loss.item():.4f}")
