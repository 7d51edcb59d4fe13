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


@pytest.mark.parametrize("power", [0.0, 1.0])
def test_schedule_free_signum_follows_its_three_sequences_under_a_changing_lr(power):
    # The reference keeps x and z explicitly; the optimiser keeps only y and z.
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(50))
    opt = ScheduleFreeSignum([p], lr=1.0, momentum=0.9, average_power=power)
    z, x, weight_sum = p.detach().clone(), p.detach().clone(), 0.0
    for step in range(30):
        lr = 0.02 * min(1.0, (step + 1) / 10)
        opt.param_groups[0]["lr"] = lr
        p.grad = torch.randn(50)
        z -= lr * p.grad.sign()
        weight = (step + 1) ** power * lr**2
        weight_sum += weight
        x += (z - x) * weight / weight_sum
        opt.step()
        torch.testing.assert_close(p.detach(), 0.1 * z + 0.9 * x)
    opt.use_average()
    torch.testing.assert_close(p.detach(), x)


def test_topk_biases_take_smaller_sign_steps_relative_to_the_input_scale():
    from saeprobe.saes import TopKSAE

    sae = TopKSAE(d_in=8, width=16, k=2)
    sae.init_weights(torch.Generator().manual_seed(0))
    cfg = TrainConfig(lr=0.1)
    before = {n: p.detach().clone() for n, p in sae.named_parameters()}
    opt = cfg.make_optimizer(sae, input_rms=3.0)
    for p in sae.parameters():
        p.grad = torch.randn_like(p)
    opt.step()  # the first step moves y to z: every entry by exactly its lr
    factor = TopKSAE.signum_bias_lr * 3.0
    assert 0 < factor < 1
    for name, p in sae.named_parameters():
        expected = 0.1 * factor if name in ("b_enc", "b_dec") else 0.1
        torch.testing.assert_close((p - before[name]).abs(), torch.full_like(p, expected))


def test_architectures_without_a_bias_factor_keep_one_learning_rate():
    from saeprobe.saes import ReLUSAE

    sae = ReLUSAE(d_in=8, width=16)
    assert ReLUSAE.signum_bias_lr is None
    groups = TrainConfig().make_optimizer(sae, input_rms=3.0).param_groups
    assert len(groups) == 1 and groups[0]["lr_factor"] == 1.0
