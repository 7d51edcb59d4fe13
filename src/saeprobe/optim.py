"""Schedule-free sign descent, the default SAE optimiser of EleutherAI's sparsify.

sparsify trains with ``ScheduleFreeWrapper(SignSGD(...), momentum=0.95)`` at
lr ``5e-3 / sqrt(width / 2**14)`` (``sparsify/trainer.py``, ``config.py``).
Sign descent is steepest descent in the L-infinity norm (Bernstein et al.
2018, "signSGD"); the schedule-free form (Defazio et al. 2024, "The Road Less
Scheduled") keeps three sequences: ``z`` takes the base steps, ``x`` is their
running average weighted by lr**2, and gradients are taken at the
interpolation ``y = (1 - momentum) z + momentum x``, which the parameters
hold during training. ``use_average()`` writes ``x`` into the parameters at
the end. No learning-rate decay is needed: the averaging plays its part.
"""

from __future__ import annotations

import torch


class ScheduleFreeSignum(torch.optim.Optimizer):
    def __init__(self, params, lr: float, momentum: float = 0.95):
        if lr <= 0 or not 0 < momentum < 1:
            raise ValueError(f"need lr > 0 and 0 < momentum < 1, got lr={lr}, momentum={momentum}")
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_sum": 0.0})

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            raise ValueError("ScheduleFreeSignum does not take a closure")
        for group in self.param_groups:
            lr, beta = group["lr"], group["momentum"]
            group["weight_sum"] += lr**2
            average_weight = lr**2 / group["weight_sum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "z" not in state:
                    state["z"] = p.detach().clone()
                z = state["z"]
                # x is recovered from y rather than stored, so edits made to the
                # parameters between steps (decoder renormalisation) carry into it.
                x = (p - (1 - beta) * z) / beta
                z.add_(p.grad.sign(), alpha=-lr)
                x.lerp_(z, average_weight)
                p.copy_(torch.lerp(x, z, 1 - beta))

    @torch.no_grad()
    def use_average(self) -> None:
        """Replace each parameter (``y``) by the averaged iterate ``x``; call once, after the last step."""
        for group in self.param_groups:
            beta = group["momentum"]
            for p in group["params"]:
                if "z" in self.state[p]:
                    p.copy_((p - (1 - beta) * self.state[p]["z"]) / beta)
