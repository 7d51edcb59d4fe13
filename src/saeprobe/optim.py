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

``average_power`` r weights step t's iterate in the average by ``t**r * lr**2``
(the schedule-free paper's polynomial weighting, ``r`` of the ``schedulefree``
package; sparsify uses r = 0). r > 0 lets ``x`` forget the early iterates faster.
"""

from __future__ import annotations

import torch


class ScheduleFreeSignum(torch.optim.Optimizer):
    def __init__(self, params, lr: float, momentum: float = 0.95, average_power: float = 0.0):
        if lr <= 0 or not 0 < momentum < 1 or average_power < 0:
            raise ValueError(f"need lr > 0, 0 < momentum < 1 and average_power >= 0, got lr={lr}, "
                             f"momentum={momentum}, average_power={average_power}")
        super().__init__(params, {"lr": lr, "momentum": momentum, "average_power": average_power,
                                  "weight_sum": 0.0, "steps": 0})

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            raise ValueError("ScheduleFreeSignum does not take a closure")
        for group in self.param_groups:
            lr, beta = group["lr"], group["momentum"]
            group["steps"] = group.get("steps", 0) + 1  # .get: checkpoints from before the counter
            weight = group["steps"] ** group.get("average_power", 0.0) * lr**2
            group["weight_sum"] += weight
            c = weight / group["weight_sum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "z" not in state:
                    state["z"] = p.detach().clone()
                z = state["z"]
                sign = p.grad.sign()
                # x is implied by y and z, x = (y - (1 - beta) z) / beta, so edits made to
                # the parameters between steps (decoder renormalisation) carry into it.
                # z' = z - lr s and x' = lerp(x, z', c) give y' = (1 - beta) z' + beta x'
                # = lerp(y, z, c) - (1 - beta + beta c) lr s: three in-place passes.
                p.lerp_(z, c).add_(sign, alpha=-(1 - beta + beta * c) * lr)
                z.add_(sign, alpha=-lr)

    @torch.no_grad()
    def use_average(self) -> None:
        """Replace each parameter (``y``) by the averaged iterate ``x``; call once, after the last step."""
        for group in self.param_groups:
            beta = group["momentum"]
            for p in group["params"]:
                if "z" in self.state[p]:
                    p.sub_(self.state[p]["z"], alpha=1 - beta).div_(beta)
