"""The gradient of torch.var

var(x) = Σ(xᵢ − x̄)² / (N − 1), so ∂var/∂xᵢ = 2(xᵢ − x̄)/(N − 1):
[−1, 0, 1] for [1, 2, 3], and [−1.6667, 0.3333, 1.3333] for [[1, 3, 4]].
"""

# %% [markdown]
# ## Three evenly spaced numbers
#
# For x = [1, 2, 3] the mean is 2 and N − 1 = 2, so each gradient is simply
# xᵢ − 2. The element at the mean does not move the variance at all.

# %%
import torch

a = torch.tensor([1, 2, 3], dtype=torch.float32, requires_grad=True)
loss = torch.var(a)
loss.backward()
print("a.grad =", a.grad)

# %% [markdown]
# ## A row in double precision
#
# The original note writes `dtype=float`, which PyTorch reads as float64.
# For [[1, 3, 4]] the mean is 8/3, so the gradients are (xᵢ − 8/3).
# `loss.detach()` gives the variance itself, 2.3333, as a tensor outside the
# graph.

# %%
a = torch.tensor([[1, 3, 4]], dtype=torch.float64, requires_grad=True)
loss = torch.var(a)
loss.backward()
print("a.grad =", a.grad)
print("variance =", loss.detach())
