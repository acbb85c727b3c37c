"""A from-scratch CNN engine: forward and backward passes written by hand, no autograd (01, 001).

Read it like micrograd: every layer is a small class with ``forward(x)`` (which caches what the
backward pass needs) and ``backward(grad_out)`` (which returns the gradient w.r.t. its input and
stores gradients of its parameters in ``self.grads``). Optimizers update ``params`` from ``grads``.

Arrays are torch tensors used as plain arrays (never ``requires_grad``): the same code runs in
float64 for gradient checks and float32 for training, and ``F.unfold``/``F.fold`` give a vectorised
im2col / col2im without Python loops over pixels or samples. Autograd is only used in the tests
and in notebook 01, to check these gradients.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class Layer:
    """Base class: no parameters, identity bookkeeping."""

    def __init__(self):
        self.params: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def backward(self, grad_out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Conv2dSame(Layer):
    """k x k convolution, stride 1, zero "same" padding: C x H x W -> F x H x W (im2col)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, generator=None, dtype=torch.float32):
        super().__init__()
        fan_in = in_channels * kernel * kernel
        bound = math.sqrt(6.0 / fan_in)  # He-uniform initialisation for ReLU
        self.kernel, self.pad = kernel, kernel // 2
        self.params["W"] = (
            torch.rand(out_channels, in_channels, kernel, kernel, generator=generator, dtype=dtype) * 2 - 1
        ) * bound
        self.params["b"] = torch.zeros(out_channels, dtype=dtype)

    def forward(self, x):
        n, _, h, w = x.shape
        self.x_shape = x.shape
        self.cols = F.unfold(x, self.kernel, padding=self.pad)  # N x (C*k*k) x (H*W)
        weight = self.params["W"].flatten(1)  # F x (C*k*k)
        out = weight @ self.cols + self.params["b"].view(1, -1, 1)  # N x F x (H*W)
        return out.view(n, -1, h, w)

    def backward(self, grad_out):
        g = grad_out.flatten(2)  # N x F x (H*W)
        self.grads["W"] = (g @ self.cols.transpose(1, 2)).sum(0).view_as(self.params["W"])
        self.grads["b"] = g.sum((0, 2))
        grad_cols = self.params["W"].flatten(1).t() @ g  # N x (C*k*k) x (H*W)
        return F.fold(grad_cols, self.x_shape[-2:], self.kernel, padding=self.pad)  # col2im


class ReLU(Layer):
    """max(0, x); the gradient passes where the input was positive."""

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, grad_out):
        return grad_out * self.mask


class MaxPool2x2(Layer):
    """2 x 2 max pooling, stride 2: H x W -> H/2 x W/2; backward routes through the argmax."""

    def forward(self, x):
        n, c, h, w = x.shape
        self.x_shape = x.shape
        windows = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
        out, self.argmax = windows.max(-1)  # which of the 4 won
        return out

    def backward(self, grad_out):
        n, c, h, w = self.x_shape
        routed = torch.zeros(*grad_out.shape, 4, dtype=grad_out.dtype)
        routed.scatter_(-1, self.argmax.unsqueeze(-1), grad_out.unsqueeze(-1))  # gradient to the winner only
        return routed.view(n, c, h // 2, w // 2, 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


class Flatten(Layer):
    """C x H x W -> C*H*W (the assignment's identity "flattening layer")."""

    def forward(self, x):
        self.x_shape = x.shape
        return x.flatten(1)

    def backward(self, grad_out):
        return grad_out.view(self.x_shape)


class Linear(Layer):
    """Fully connected: x W^T + b."""

    def __init__(self, in_features: int, out_features: int, generator=None, dtype=torch.float32):
        super().__init__()
        bound = math.sqrt(6.0 / in_features)
        self.params["W"] = (torch.rand(out_features, in_features, generator=generator, dtype=dtype) * 2 - 1) * bound
        self.params["b"] = torch.zeros(out_features, dtype=dtype)

    def forward(self, x):
        self.x = x
        return x @ self.params["W"].t() + self.params["b"]

    def backward(self, grad_out):
        self.grads["W"] = grad_out.t() @ self.x
        self.grads["b"] = grad_out.sum(0)
        return grad_out @ self.params["W"]


def softmax_cross_entropy(logits: torch.Tensor, one_hot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy of softmax(logits) against one-hot targets, and its gradient a - y (/N)."""
    shifted = logits - logits.max(1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(1, keepdim=True).log()
    loss = -(one_hot * log_probs).sum(1).mean()
    return loss, (log_probs.exp() - one_hot) / len(logits)


class Sequential:
    """Layers applied in order; ``backward`` runs them in reverse."""

    def __init__(self, *layers: Layer):
        self.layers = list(layers)

    def forward(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """The output of the whole network, or of its first ``upto`` layers."""
        for layer in self.layers[:upto]:
            x = layer.forward(x)
        return x

    def backward(self, grad: torch.Tensor) -> torch.Tensor:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def parameters(self) -> list[tuple[Layer, str]]:
        """(layer, name) pairs of every parameter, in a fixed order."""
        return [(layer, name) for layer in self.layers for name in layer.params]


def tiny_cnn(seed: int = 0, dtype=torch.float32) -> Sequential:
    """Assignment 001's network: conv 4@5x5 -> ReLU -> pool -> conv 4@5x5x4 -> ReLU -> pool -> 49 -> 10."""
    g = torch.Generator().manual_seed(seed)
    return Sequential(
        Conv2dSame(1, 4, 5, g, dtype),  # 1x28x28 -> 4x28x28
        ReLU(),
        MaxPool2x2(),  # -> 4x14x14
        Conv2dSame(4, 4, 5, g, dtype),  # -> 4x14x14
        ReLU(),
        MaxPool2x2(),  # -> 4x7x7
        Flatten(),  # -> 196 (the bottleneck feature)
        Linear(196, 49, g, dtype),  # -> 49
        ReLU(),
        Linear(49, 10, g, dtype),  # -> 10 logits (softmax in the loss)
    )


BOTTLENECK = 7  # tiny_cnn().forward(x, upto=BOTTLENECK) gives the flattened input to the MLP


# --------------------------------------------------------------------------- optimizers


class SGD:
    """Vanilla SGD: p <- p - lr * g."""

    def __init__(self, net: Sequential, lr: float = 1e-3):
        self.net, self.lr = net, lr

    def step(self) -> None:
        for layer, name in self.net.parameters():
            layer.params[name] -= self.update(layer, name, layer.grads[name])

    def update(self, layer, name, grad):
        return self.lr * grad


class Momentum(SGD):
    """Momentum: v <- alpha v + lr g; p <- p - v."""

    def __init__(self, net: Sequential, lr: float = 1e-3, alpha: float = 0.9):
        super().__init__(net, lr)
        self.alpha, self.velocity = alpha, {}

    def update(self, layer, name, grad):
        key = (id(layer), name)
        self.velocity[key] = self.alpha * self.velocity.get(key, torch.zeros_like(grad)) + self.lr * grad
        return self.velocity[key]


class RMSProp(SGD):
    """RMSProp: s <- rho s + (1 - rho) g^2; p <- p - lr g / (sqrt(s) + eps)."""

    def __init__(self, net: Sequential, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-8):
        super().__init__(net, lr)
        self.rho, self.eps, self.square = rho, eps, {}

    def update(self, layer, name, grad):
        key = (id(layer), name)
        self.square[key] = self.rho * self.square.get(key, torch.zeros_like(grad)) + (1 - self.rho) * grad**2
        return self.lr * grad / (self.square[key].sqrt() + self.eps)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSProp}


# --------------------------------------------------------------------------- training


def train_step(net: Sequential, optimizer: SGD, x: torch.Tensor, labels: torch.Tensor) -> float:
    """One forward + backward + update on a mini-batch; returns the loss."""
    loss, grad = softmax_cross_entropy(net.forward(x), F.one_hot(labels, 10).to(x.dtype))
    net.backward(grad)
    optimizer.step()
    return loss.item()


def evaluate(net: Sequential, x: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """(loss, error rate) of the network on a whole set."""
    logits = net.forward(x)
    loss, _ = softmax_cross_entropy(logits, F.one_hot(labels, 10).to(x.dtype))
    return loss.item(), (logits.argmax(1) != labels).float().mean().item()
