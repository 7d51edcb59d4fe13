import copy

import pytest
import torch

from saeprobe.optim import ScheduleFreeSignum
from saeprobe.training import TrainConfig


def test_schedule_free_signum_by_hand():
    # Two steps on f(p) = p (gradient +1) and one on -p, from p = 1, lr 0.1, momentum 0.5.
    p = torch.nn.Parameter(torch.tensor([1.0]))
    opt = ScheduleFreeSignum([p], lr=0.1, momentum=0.5)
    z, x = 1.0, 1.0
    for t, grad_sign in enumerate([1.0, 1.0, -1.0], start=1):
        p.grad = torch.tensor([3.0 * grad_sign])  # only the sign matters
        opt.step()
        z -= 0.1 * grad_sign
        x += (z - x) / t  # equal lr: the uniform average of z_1..z_t
        assert p.item() == pytest.approx(0.5 * z + 0.5 * x)
    opt.use_average()
    assert p.item() == pytest.approx(x)


def test_edits_between_steps_carry_into_the_average():
    # Decoder renormalisation edits y; x = (y - (1 - momentum) z) / momentum absorbs it.
    p = torch.nn.Parameter(torch.tensor([2.0]))
    opt = ScheduleFreeSignum([p], lr=0.1, momentum=0.5)
    p.grad = torch.tensor([1.0])
    opt.step()
    with torch.no_grad():
        p.mul_(0.5)
    opt.use_average()
    z = 1.9
    assert p.item() == pytest.approx((0.5 * (0.5 * z + 0.5 * 1.9) - 0.5 * z) / 0.5)


def test_state_dict_round_trip_keeps_the_average():
    p = torch.nn.Parameter(torch.randn(5))
    opt = ScheduleFreeSignum([p], lr=0.05)
    for _ in range(3):
        p.grad = torch.randn(5)
        opt.step()
    q = torch.nn.Parameter(p.detach().clone())
    restored = ScheduleFreeSignum([q], lr=0.05)
    restored.load_state_dict(copy.deepcopy(opt.state_dict()))  # as from a checkpoint file
    grad = torch.randn(5)
    p.grad, q.grad = grad, grad.clone()
    opt.step()
    restored.step()
    opt.use_average()
    restored.use_average()
    torch.testing.assert_close(q, p)


def test_default_learning_rates_follow_sparsify():
    assert TrainConfig(optimizer="signum").learning_rate(2**14, 0) == pytest.approx(5e-3)
    assert TrainConfig(optimizer="adam").learning_rate(2**14, 0) == pytest.approx(2e-4)
    # Adam decays over the last 20% by default; schedule-free averaging needs no decay.
    assert TrainConfig(optimizer="adam", steps=10).learning_rate(2**14, 9) < 2e-4
    assert TrainConfig(optimizer="signum", steps=10).learning_rate(2**14, 9) == pytest.approx(5e-3)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="sgd")
