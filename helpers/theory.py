"""Small numerical checks behind the theory answers of notebook 01 (000.T1-T3, 002.P1-P3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.functional import jacobian


def circular_conv(x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """2-D circular convolution of one image ``x`` (H x W) with a kernel ``h`` (k x k) (000.T1)."""
    k = h.shape[-1]
    padded = F.pad(x[None, None], (k // 2,) * 4, mode="circular")
    return F.conv2d(padded, h.flip(-1, -2)[None, None])[0, 0]


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Circular shift of the last two axes by (dy, dx) (000.T1-T2)."""
    return torch.roll(x, (dy, dx), dims=(-2, -1))


def equivariance_error(layer, x: torch.Tensor, dy: int, dx: int, out_shift: tuple[int, int] | None = None) -> float:
    """max |layer(shift(x)) - shift(layer(x))|: 0 for a shift-equivariant layer (000.T2)."""
    oy, ox = out_shift if out_shift is not None else (dy, dx)
    return (layer(shift(x, dy, dx)) - shift(layer(x), oy, ox)).abs().max().item()


def jacobian_checks(seed: int = 0) -> dict[str, float]:
    """Hand-derived Jacobians of bias add, FC and convolution vs autograd: max abs difference (000.T3)."""
    g = torch.Generator().manual_seed(seed)
    n, m = 5, 3
    x, b = torch.randn(n, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)
    W = torch.randn(m, n, generator=g, dtype=torch.float64)
    h = torch.randn(3, generator=g, dtype=torch.float64)
    # 1-D "same" convolution y_i = sum_j h_j x_{i+j-1}: J[i, l] = h_{l-i+1} (a banded Toeplitz matrix)
    toeplitz = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        for j in range(3):
            if 0 <= i + j - 1 < n:
                toeplitz[i, i + j - 1] = h[j]
    conv = lambda v: F.conv1d(v[None, None], h[None, None], padding=1)[0, 0]     # noqa: E731
    return {
        "bias: dy/dx = I": (jacobian(lambda v: v + b, x) - torch.eye(n, dtype=torch.float64)).abs().max().item(),
        "FC: dy/dx = W": (jacobian(lambda v: W @ v, x) - W).abs().max().item(),
        "FC: dy_i/dW_ij = x_j": (jacobian(lambda w: w @ x, W) -
                                 torch.einsum("ik,j->ikj", torch.eye(m, dtype=torch.float64), x)).abs().max().item(),
        "conv: dy/dx = Toeplitz(h)": (jacobian(conv, x) - toeplitz).abs().max().item(),
    }


def sigmoid_222_network():
    """The stated 2-2-2 sigmoid network for 002.P3.3 (its figure is missing from the assignment)."""
    values = {"x": [0.05, 0.10], "y": [0.01, 0.99],
              "W1": [[0.15, 0.20], [0.25, 0.30]], "b1": [0.35, 0.35],
              "W2": [[0.40, 0.45], [0.50, 0.55]], "b2": [0.60, 0.60]}
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}


def backprop_222_by_hand(p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Deltas and gradients of the cross-entropy cost written out with the backprop equations (002.P3.3)."""
    z1 = p["W1"] @ p["x"] + p["b1"]
    a1 = torch.sigmoid(z1)
    a2 = torch.sigmoid(p["W2"] @ a1 + p["b2"])
    delta2 = a2 - p["y"]                                  # cross-entropy + sigmoid: delta^L = a - y
    delta1 = (p["W2"].t() @ delta2) * a1 * (1 - a1)       # delta^l = (W^{l+1})^T delta^{l+1} * sigma'(z^l)
    return {"a1": a1, "a2": a2, "delta2": delta2, "delta1": delta1,
            "W2": torch.outer(delta2, a1), "b2": delta2, "W1": torch.outer(delta1, p["x"]), "b1": delta1}


def backprop_222_by_autograd(p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same gradients from torch autograd (002.P3.3)."""
    leaves = {k: p[k].clone().requires_grad_(True) for k in ("W1", "b1", "W2", "b2")}
    a2 = torch.sigmoid(leaves["W2"] @ torch.sigmoid(leaves["W1"] @ p["x"] + leaves["b1"]) + leaves["b2"])
    cost = -(p["y"] * a2.log() + (1 - p["y"]) * (1 - a2).log()).sum()
    cost.backward()
    return {k: v.grad for k, v in leaves.items()}
