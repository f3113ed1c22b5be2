"""Mean of squares: a vector in, a scalar out

y = mean(x²) for x = [1, 2, 3]. Each element gets its own partial
derivative 2xᵢ/3: x.grad = [0.6667, 1.3333, 2.0].
"""

# %% [markdown]
# ## A vector input
#
# `x` has three elements. Squaring works element by element, and `.mean()`
# reduces the result to one number: `backward()` without arguments needs a
# scalar to start from.

# %%
import torch

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = (x**2).mean()
print("y =", y)

# %% [markdown]
# ## Backward
#
#     y = (x₁² + x₂² + x₃²) / 3,   ∂y/∂xᵢ = 2xᵢ / 3
#
# `MeanBackward0` hands each element 1/3; `PowBackward0` multiplies element by
# element with 2xᵢ. Its local Jacobian is diagonal: each output depends only
# on its own input. Autograd never builds that matrix, it multiplies the
# vector directly (a vector-Jacobian product).

# %%
y.backward()
print("x.grad =", x.grad)  # [2/3, 4/3, 6/3]
