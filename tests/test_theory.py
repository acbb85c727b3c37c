"""The theory answers of notebook 01, each checked numerically (autograd or finite differences)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from helpers.theory import (
    backprop_222_by_autograd,
    backprop_222_by_hand,
    circular_conv,
    conv2d_input_jacobian,
    conv2d_jacobian_checks,
    cross_entropy_222,
    equivariance_error,
    finite_difference_222,
    jacobian_checks,
    linearity_error,
    named_derivatives_222,
    position_bias_errors,
    sigmoid_222_network,
    update_step_222,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_convolution_is_linear(seed):
    assert linearity_error(seed) < 1e-10


def test_convolution_is_shift_equivariant_and_a_nonlinear_map_would_fail_the_linearity_check():
    x, h = torch.randn(12, 12, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    assert equivariance_error(lambda v: circular_conv(v, h), x, 2, 5) < 1e-10
    squared = lambda v: circular_conv(v, h) ** 2  # noqa: E731  (shift-equivariant, not linear)
    assert (squared(2 * x) - 2 * squared(x)).abs().max() > 1e-3


def test_a_position_dependent_bias_breaks_shift_equivariance_by_exactly_its_own_shift():
    errors = position_bias_errors()
    assert errors["constant"] == 0.0
    assert errors["bias_map"] > 0.1
    assert errors["bias_map"] == pytest.approx(errors["bias_map_predicted"], abs=1e-12)


@pytest.mark.parametrize("channels,side,k,padding", [((2, 3), 5, 3, 1), ((1, 2), 6, 5, 2), ((3, 1), 4, 3, 0)])
def test_written_out_conv2d_jacobians_match_autograd(channels, side, k, padding):
    errors = conv2d_jacobian_checks(0, channels, side, k, padding)
    assert max(errors.values()) < 1e-12, errors


def test_conv2d_input_jacobian_is_not_trivially_zero_and_has_the_right_shape():
    K = torch.randn(3, 2, 3, 3, dtype=torch.float64)
    J = conv2d_input_jacobian(K, 5, 1)
    assert J.shape == (3 * 5 * 5, 2 * 5 * 5)
    # one output pixel in the middle depends on exactly k*k*C inputs
    middle = J.reshape(3, 5, 5, 50)[0, 2, 2]
    assert int((middle != 0).sum()) == 9 * 2


def test_layer_jacobians_of_bias_fc_and_1d_conv_match_autograd():
    assert max(jacobian_checks(0).values()) < 1e-12


def test_222_network_derivatives_by_hand_match_autograd_and_finite_differences():
    p = sigmoid_222_network()
    by_hand, by_autograd, numeric = backprop_222_by_hand(p), backprop_222_by_autograd(p), finite_difference_222(p)
    for name in ("W1", "b1", "W2", "b2"):
        assert torch.allclose(by_hand[name], by_autograd[name], atol=1e-12), name
        assert torch.allclose(by_hand[name], numeric[name], atol=1e-8), name
    named = named_derivatives_222(by_hand)
    assert set(named) == {f"w{i}" for i in range(1, 9)} | {f"b{i}" for i in range(1, 5)}
    assert named["w6"] == pytest.approx(by_autograd["W2"][0, 1].item())
    assert named["b4"] == pytest.approx(by_autograd["b2"][1].item())


def test_one_explicit_update_step_equals_torch_sgd_and_lowers_the_cost():
    p, eta = sigmoid_222_network(), 0.5
    stepped = update_step_222(p, backprop_222_by_hand(p), eta)
    leaves = {k: p[k].clone().requires_grad_(True) for k in ("W1", "b1", "W2", "b2")}
    optimizer = torch.optim.SGD(leaves.values(), lr=eta)
    cross_entropy_222({**p, **leaves}).backward()
    optimizer.step()
    for name, leaf in leaves.items():
        assert torch.allclose(stepped[name], leaf.detach(), atol=1e-12), name
    assert cross_entropy_222(stepped) < cross_entropy_222(p)
    assert torch.equal(stepped["x"], p["x"]) and torch.equal(stepped["y"], p["y"])


def test_softmax_delta_is_a_minus_y():
    logits = torch.randn(10, dtype=torch.float64, requires_grad=True)
    F.cross_entropy(logits[None], torch.tensor([3])).backward()
    expected = torch.softmax(logits.detach(), 0) - F.one_hot(torch.tensor(3), 10)
    assert torch.allclose(logits.grad, expected.double(), atol=1e-12)
