"""Small numerical checks behind the theory answers of notebook 01 (000.T1-T3, 002.P1-P3): each answer
written out by hand and compared with torch autograd or finite differences (tests/test_theory.py)."""

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


def linearity_error(seed: int = 0, side: int = 16, k: int = 5) -> float:
    """max |h*(a x1 + b x2) - (a h*x1 + b h*x2)| for random images, kernel and scalars: 0 for a linear map (000.T1)."""
    g = torch.Generator().manual_seed(seed)
    x1, x2 = torch.randn(2, side, side, generator=g, dtype=torch.float64)
    h = torch.randn(k, k, generator=g, dtype=torch.float64)
    a, b = torch.randn(2, generator=g, dtype=torch.float64)
    return (
        (circular_conv(a * x1 + b * x2, h) - (a * circular_conv(x1, h) + b * circular_conv(x2, h))).abs().max().item()
    )


def position_bias_errors(seed: int = 0, side: int = 16, dy: int = 3, dx: int = 1) -> dict[str, float]:
    """Shift equivariance of y = x + B for a constant B and a position-dependent bias map B (000.T2a).

    For a bias map the error equals max |B - shift(B)| exactly: the layer adds a different number at
    each position, so moving the input moves the content but not the bias pattern under it.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(side, side, generator=g, dtype=torch.float64)
    bias_map = torch.randn(side, side, generator=g, dtype=torch.float64)
    return {
        "constant": equivariance_error(lambda v: v + 0.7, x, dy, dx),
        "bias_map": equivariance_error(lambda v: v + bias_map, x, dy, dx),
        "bias_map_predicted": (bias_map - shift(bias_map, dy, dx)).abs().max().item(),
    }


def conv2d_input_jacobian(kernel: torch.Tensor, side: int, padding: int) -> torch.Tensor:
    """The Jacobian of ``F.conv2d(x, kernel, padding=padding)`` w.r.t. a C x side x side input, written
    out: rows (o, i, j), columns (c, k, l), entry K[o, c, k - i + p, l - j + p] where that index exists (000.T3c).

    Each (o, c) block is doubly block-Toeplitz: it depends on (k - i, l - j) only.
    """
    n_out, n_in, kh, kw = kernel.shape
    out = side + 2 * padding - kh + 1
    J = torch.zeros(n_out, out, out, n_in, side, side, dtype=kernel.dtype)
    for i in range(out):
        for j in range(out):
            for u in range(kh):
                for v in range(kw):
                    row, col = i + u - padding, j + v - padding
                    if 0 <= row < side and 0 <= col < side:
                        J[:, i, j, :, row, col] = kernel[:, :, u, v]
    return J.reshape(n_out * out * out, n_in * side * side)


def conv2d_kernel_jacobian(x: torch.Tensor, kernel_shape: tuple[int, ...], padding: int) -> torch.Tensor:
    """The Jacobian of ``F.conv2d(x, K, padding=padding)`` w.r.t. K, written out: dy[o,i,j]/dK[o',c,u,v] =
    delta(o, o') x_padded[c, i + u, j + v] — each output channel sees the input patches (im2col) (000.T3c)."""
    n_out, n_in, kh, kw = kernel_shape
    padded = F.pad(x, (padding,) * 4)
    out = padded.shape[-1] - kh + 1
    J = torch.zeros(n_out, out, out, n_out, n_in, kh, kw, dtype=x.dtype)
    for o in range(n_out):
        for i in range(out):
            for j in range(out):
                J[o, i, j, o] = padded[:, i : i + kh, j : j + kw]
    return J.reshape(n_out * out * out, -1)


def conv2d_jacobian_checks(
    seed: int = 0, channels: tuple[int, int] = (2, 3), side: int = 5, k: int = 3, padding: int = 1
) -> dict[str, float]:
    """The written-out 2-D multi-channel convolution Jacobians vs autograd, and their Toeplitz structure (000.T3c)."""
    g = torch.Generator().manual_seed(seed)
    n_in, n_out = channels
    x = torch.randn(n_in, side, side, generator=g, dtype=torch.float64)
    K = torch.randn(n_out, n_in, k, k, generator=g, dtype=torch.float64)
    conv_x = lambda v: F.conv2d(v[None], K, padding=padding)[0].flatten()  # noqa: E731
    conv_k = lambda w: F.conv2d(x[None], w, padding=padding)[0].flatten()  # noqa: E731
    by_hand_x, by_hand_k = conv2d_input_jacobian(K, side, padding), conv2d_kernel_jacobian(x, K.shape, padding)
    out = side + 2 * padding - k + 1
    blocks = by_hand_x.reshape(n_out, out, out, n_in, side, side)
    toeplitz_gap = 0.0  # entries on one (di, dj) diagonal must all be equal
    for i in range(out):
        for j in range(out):
            for kk in range(side):
                for ll in range(side):
                    i2, j2, k2, l2 = i + 1, j + 1, kk + 1, ll + 1
                    if i2 < out and j2 < out and k2 < side and l2 < side:
                        gap = (blocks[:, i, j, :, kk, ll] - blocks[:, i2, j2, :, k2, l2]).abs().max().item()
                        toeplitz_gap = max(toeplitz_gap, gap)
    return {
        "conv2d: dy/dx = block-Toeplitz(K)": (jacobian(conv_x, x).reshape(by_hand_x.shape) - by_hand_x)
        .abs()
        .max()
        .item(),
        "conv2d: dy/dK = input patches": (jacobian(conv_k, K).reshape(by_hand_k.shape) - by_hand_k).abs().max().item(),
        "conv2d: each block constant along its diagonals": toeplitz_gap,
    }


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
    conv = lambda v: F.conv1d(v[None, None], h[None, None], padding=1)[0, 0]  # noqa: E731
    return {
        "bias: dy/dx = I": (jacobian(lambda v: v + b, x) - torch.eye(n, dtype=torch.float64)).abs().max().item(),
        "FC: dy/dx = W": (jacobian(lambda v: W @ v, x) - W).abs().max().item(),
        "FC: dy_i/dW_ij = x_j": (
            jacobian(lambda w: w @ x, W) - torch.einsum("ik,j->ikj", torch.eye(m, dtype=torch.float64), x)
        )
        .abs()
        .max()
        .item(),
        "conv: dy/dx = Toeplitz(h)": (jacobian(conv, x) - toeplitz).abs().max().item(),
    }


def sigmoid_222_network():
    """The stated 2-2-2 sigmoid network for 002.P3.3 (its figure is missing from the assignment)."""
    values = {
        "x": [0.05, 0.10],
        "y": [0.01, 0.99],
        "W1": [[0.15, 0.20], [0.25, 0.30]],
        "b1": [0.35, 0.35],
        "W2": [[0.40, 0.45], [0.50, 0.55]],
        "b2": [0.60, 0.60],
    }
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}


def backprop_222_by_hand(p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Deltas and gradients of the cross-entropy cost written out with the backprop equations (002.P3.3)."""
    z1 = p["W1"] @ p["x"] + p["b1"]
    a1 = torch.sigmoid(z1)
    a2 = torch.sigmoid(p["W2"] @ a1 + p["b2"])
    delta2 = a2 - p["y"]  # cross-entropy + sigmoid: delta^L = a - y
    delta1 = (p["W2"].t() @ delta2) * a1 * (1 - a1)  # delta^l = (W^{l+1})^T delta^{l+1} * sigma'(z^l)
    return {
        "a1": a1,
        "a2": a2,
        "delta2": delta2,
        "delta1": delta1,
        "W2": torch.outer(delta2, a1),
        "b2": delta2,
        "W1": torch.outer(delta1, p["x"]),
        "b1": delta1,
    }


def backprop_222_by_autograd(p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same gradients from torch autograd (002.P3.3)."""
    leaves = {k: p[k].clone().requires_grad_(True) for k in ("W1", "b1", "W2", "b2")}
    cross_entropy_222({**p, **leaves}).backward()
    return {k: v.grad for k, v in leaves.items()}


def cross_entropy_222(p: dict[str, torch.Tensor]) -> torch.Tensor:
    """The cross-entropy cost of the 2-2-2 sigmoid network on its one example (002.P3.3)."""
    a2 = torch.sigmoid(p["W2"] @ torch.sigmoid(p["W1"] @ p["x"] + p["b1"]) + p["b2"])
    return -(p["y"] * a2.log() + (1 - p["y"]) * (1 - a2).log()).sum()


def named_derivatives_222(grads: dict[str, torch.Tensor]) -> dict[str, float]:
    """dC/dw for every single weight and bias, named as in the usual figure: w1..w4 (input → hidden),
    w5..w8 (hidden → output), b1, b2 (hidden), b3, b4 (output) (002.P3.3)."""
    W1, W2 = grads["W1"], grads["W2"]
    names = {
        "w1": W1[0, 0],
        "w2": W1[0, 1],
        "w3": W1[1, 0],
        "w4": W1[1, 1],
        "w5": W2[0, 0],
        "w6": W2[0, 1],
        "w7": W2[1, 0],
        "w8": W2[1, 1],
        "b1": grads["b1"][0],
        "b2": grads["b1"][1],
        "b3": grads["b2"][0],
        "b4": grads["b2"][1],
    }
    return {k: float(v) for k, v in names.items()}


def update_step_222(p: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], eta: float) -> dict[str, torch.Tensor]:
    """One gradient-descent step theta <- theta - eta dC/dtheta on the weights and biases (002.P3.3)."""
    return {k: (v - eta * grads[k] if k in grads else v) for k, v in p.items()}


def finite_difference_222(p: dict[str, torch.Tensor], eps: float = 1e-6) -> dict[str, torch.Tensor]:
    """Central-difference derivatives of the cost w.r.t. every weight and bias (002.P3.3)."""
    grads = {}
    for name in ("W1", "b1", "W2", "b2"):
        grad = torch.zeros_like(p[name])
        for index in range(p[name].numel()):
            bumped = {}
            for sign in (1, -1):
                q = {k: v.clone() for k, v in p.items()}
                q[name].view(-1)[index] += sign * eps
                bumped[sign] = cross_entropy_222(q).item()
            grad.view(-1)[index] = (bumped[1] - bumped[-1]) / (2 * eps)
        grads[name] = grad
    return grads
