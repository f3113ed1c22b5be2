"""Which tensors get a gradient? E = A·2 + B·3

Only A requires grad. Autograd tracks everything computed from A, ignores the
branch that only involves B, and after E.backward() A.grad = 2 while B.grad
stays None.
"""

# %% [markdown]
# ## Tracked and untracked
#
# `requires_grad` is `False` unless you ask for it, and it spreads: a result
# requires grad as soon as one of its inputs does. So `C = A * 2` and
# `E = C + D` are tracked (they have a `grad_fn`), while `B` and `D = B * 3`
# are plain numbers to autograd.

# %%
import torch

A = torch.tensor([5.0], requires_grad=True)
B = torch.tensor([10.0])
C = A * 2
D = B * 3
E = C + D
print("E =", E)
print("A, B require grad:", A.requires_grad, B.requires_grad)
print("C, D, E require grad:", C.requires_grad, D.requires_grad, E.requires_grad)

# %% [markdown]
# ## Backward
#
# The addition node has one input from `C` and a `None` slot for `D`: no
# gradient is sent that way. `A.grad` is dE/dA = 2, the amount E changes per
# unit change of A. `B.grad` is `None`: B was never tracked.

# %%
E.backward()
print("A.grad =", A.grad)
print("B.grad =", B.grad)
