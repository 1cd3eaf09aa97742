"""Losses against closed forms, hand cases and torch/scipy references."""

import math

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import poisson

from framestamp.losses import (
    binary_frame_loss,
    ihp_nll,
    joint_loss,
    reduce_nll,
    token_loss,
)


def _full_mask(shape):
    return torch.ones(shape, dtype=torch.bool)


def test_ihp_constant_intensity_is_poisson_process_likelihood():
    rate, n_frames = 0.3, 50
    z = torch.full((1, n_frames), math.log(rate))
    counts = torch.zeros(1, n_frames)
    counts[0, 3], counts[0, 17], counts[0, 40] = 1.0, 2.0, 1.0  # two events share frame 17
    n_events = 4
    expected = n_frames * rate - n_events * math.log(rate)
    assert ihp_nll(z, counts, _full_mask(z.shape)).item() == pytest.approx(expected, rel=1e-6)


def test_ihp_single_spike_hand_case():
    z = torch.tensor([[0.0, 0.0, 2.0, 0.0, 0.0]])
    counts = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0]])
    expected = 4 * 1.0 + math.exp(2.0) - 2.0
    assert ihp_nll(z, counts, _full_mask(z.shape)).item() == pytest.approx(expected, rel=1e-6)


def test_ihp_gradient_is_intensity_minus_counts():
    torch.manual_seed(0)
    z = torch.randn(3, 20, requires_grad=True)
    counts = torch.randint(0, 3, (3, 20)).float()
    ihp_nll(z, counts, _full_mask(z.shape)).sum().backward()
    torch.testing.assert_close(z.grad, torch.exp(z.detach()) - counts)


def test_ihp_padding_changes_neither_loss_nor_gradient():
    torch.manual_seed(1)
    z = torch.randn(2, 12)
    counts = torch.randint(0, 2, (2, 12)).float()
    mask = torch.arange(12)[None, :] < torch.tensor([[12], [7]])
    garbage = z.clone()
    garbage[~mask] = torch.tensor([float("inf"), float("nan"), 50.0, -1e30, 3.0])
    losses, grads = [], []
    for logits in (z, garbage):
        logits = logits.clone().requires_grad_(True)
        loss = ihp_nll(logits, counts, mask)
        loss.sum().backward()
        losses.append(loss.detach())
        grads.append(logits.grad)
    torch.testing.assert_close(losses[0], losses[1])
    torch.testing.assert_close(grads[0], grads[1])
    assert torch.all(grads[1][~mask] == 0)
    real = mask[1]
    torch.testing.assert_close(grads[1][1, real], torch.exp(z[1, real]) - counts[1, real])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_ihp_low_precision_input_is_computed_in_float32(dtype):
    z = torch.tensor([[12.0, -3.0, 0.5, 2.0]] * 2, dtype=dtype)  # exp(12) overflows float16
    counts = torch.tensor([[1.0, 0.0, 0.0, 1.0]] * 2)
    loss = ihp_nll(z, counts, _full_mask(z.shape))
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss).all()
    torch.testing.assert_close(loss, ihp_nll(z.float(), counts, _full_mask(z.shape)))


def test_reductions():
    torch.manual_seed(2)
    z = torch.randn(3, 10)
    counts = torch.randint(0, 2, (3, 10)).float()
    mask = torch.arange(10)[None, :] < torch.tensor([[10], [4], [6]])
    per_example = ihp_nll(z, counts, mask)
    assert per_example.shape == (3,)
    torch.testing.assert_close(ihp_nll(z, counts, mask, reduction="mean"), per_example.mean())
    torch.testing.assert_close(ihp_nll(z, counts, mask, reduction="per_frame"), per_example.sum() / 20)
    with pytest.raises(ValueError):
        reduce_nll(per_example, mask, "sum")


def test_binary_pos_weight_is_negative_over_positive_and_matches_torch():
    logits = torch.tensor([[2.0, -1.0, 0.5, -3.0, 9.0], [0.3, 1.5, -0.2, 7.0, 7.0]])
    targets = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True, True, False], [True, True, True, True, False]])
    # 8 real frames, 2 positive: pos_weight = 6 / 2 = 3.
    reference = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(3.0))(logits[mask], targets[mask])
    torch.testing.assert_close(binary_frame_loss(logits, targets, mask), reference)
    torch.testing.assert_close(binary_frame_loss(logits, targets, mask, pos_weight=3.0), reference)
    unweighted = F.binary_cross_entropy_with_logits(logits[mask], targets[mask])
    assert not torch.isclose(binary_frame_loss(logits, targets, mask, pos_weight=1.0), reference)
    torch.testing.assert_close(binary_frame_loss(logits, targets, mask, pos_weight=1.0), unweighted)


def test_binary_no_positive_frame_is_finite():
    logits = torch.randn(2, 5, dtype=torch.bfloat16)
    loss = binary_frame_loss(logits, torch.zeros(2, 5), _full_mask((2, 5)))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_token_loss_shifts_and_ignores():
    torch.manual_seed(4)
    logits = torch.randn(2, 5, 11)
    labels = torch.tensor([[-100, -100, 3, 4, 5], [-100, 1, 2, -100, -100]])
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, 11), labels[:, 1:].reshape(-1), ignore_index=-100)
    torch.testing.assert_close(token_loss(logits, labels), expected)
    by_hand = -(torch.log_softmax(logits[0, 1], -1)[3] + torch.log_softmax(logits[0, 2], -1)[4]
                + torch.log_softmax(logits[0, 3], -1)[5] + torch.log_softmax(logits[1, 0], -1)[1]
                + torch.log_softmax(logits[1, 1], -1)[2]) / 5
    torch.testing.assert_close(token_loss(logits, labels), by_hand)


def test_token_loss_float32_and_all_ignored():
    logits = torch.randn(1, 4, 7, dtype=torch.bfloat16)
    labels = torch.tensor([[-100, 2, 3, 1]])
    loss = token_loss(logits, labels)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, token_loss(logits.float(), labels))
    assert token_loss(logits, torch.full((1, 4), -100)).item() == 0.0


def test_joint_loss():
    token, ihp = torch.tensor(2.0), torch.tensor(30.0)
    assert joint_loss(token, ihp, 0.05).item() == pytest.approx(3.5)
    assert joint_loss(token, ihp).item() == pytest.approx(2.3)
    with pytest.raises(ValueError):
        joint_loss(token, ihp, -0.1)
