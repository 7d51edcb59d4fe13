"""P-annealing ReLU SAE (Karvonen et al. 2024, "Measuring Progress in Dictionary
Learning for Language Model Interpretability with Board Game Models"; one of
the SAEBench baselines, Karvonen et al. 2024/2025).

Follows dictionary_learning's ``trainers/p_anneal.py:PAnnealTrainer``: the
``relu`` SAE (input centred by ``b_dec``, unit-norm decoder rows) whose
sparsity penalty is an Lp norm of the latents, with p stepped linearly from
``p_start`` to ``p_end`` in ``n_sparsity_updates`` stages between
``anneal_start`` and ``anneal_end``. Because the size of the Lp term changes
with p, the coefficient is rescaled at every p change so that the penalty
stays continuous: over the last ``sparsity_queue_length`` steps the penalty
is measured at both the current and the next p, and at the switch the
coefficient is multiplied by mean(current) / mean(next).

Schedules (penalty warmup, the p stages) are functions of ``progress``. The
coefficient rescaling is a running statistic; it lives in registered buffers
(saved with the weights and in trainer checkpoints), so a resumed run
continues exactly.
"""

from __future__ import annotations

import torch

from saeprobe.saes.base import SparseAutoencoder, TrainingLoss, check_fraction, register, sparsity_warmup_scale
from saeprobe.saes.relu import ReLUSAE, fvu

_SPARSITY_FUNCTIONS = ("Lp", "Lp^p")
_TOLERANCE = 1e-9


@register
class PAnnealSAE(SparseAutoencoder):
    """ReLU SAE with an annealed Lp sparsity penalty (``panneal``).

    Loss (the reference's convention, as for ``relu``; see
    ``saeprobe.saes.relu``)::

        mean_batch ||x - x_hat||^2 + l1_coefficient * c * warmup(progress) * mean_batch S_p(f)

    with ``S_p(f) = sum_i f_i^p`` ("Lp^p") or ``(sum_i f_i^p)^(1/p)`` ("Lp"),
    and ``c`` the running coefficient rescaling (1 until the second p stage).
    At p = 1 both equal the L1 penalty of ``relu``, so ``l1_coefficient`` has
    the same meaning as there (defaults are meant for E||x||^2 = 1 data).

    p stages: the update points are ``n_sparsity_updates`` evenly spaced
    fractions from ``anneal_start`` to ``anneal_end``; after the k-th point
    (k = 0, 1, ...) p is the k-th value of ``linspace(p_start, p_end,
    n_sparsity_updates)``. As in the reference, the last point lies at
    ``anneal_end = 1`` by default and is never reached, so p ends one stage
    short of ``p_end``. If several points fall within one training step, p
    jumps to the latest and the coefficient is rescaled only once.
    """

    architecture = "panneal"
    unit_norm_decoder = True
    input_centered = True

    def __init__(
        self,
        d_in: int,
        width: int,
        # PAnnealTrainer initial_sparsity_penalty defaults to 0.1; SAEBench's
        # sweep (adamkarvonen/dictionary_learning_demo demo_config.py,
        # SPARSITY_PENALTIES.p_anneal) is 0.006..0.025 on unit-mean-squared-norm
        # activations; 0.015 is a mid value of that sweep.
        l1_coefficient: float = 0.015,
        # PAnnealTrainer sparsity_warmup_steps (default 2000 steps); SAEBench used
        # 5000 of 244k steps (demo_config.py SPARSITY_WARMUP_STEPS, 500M tokens
        # at batch 2048), about 2% of training.
        sparsity_warmup: float = 0.02,
        # SAEBench (demo_config.py PAnnealTrainerConfig): "Lp^p"; PAnnealTrainer's default is "Lp".
        sparsity_function: str = "Lp^p",
        # PAnnealTrainer / demo_config.py: p_start = 1.
        p_start: float = 1.0,
        # SAEBench (demo_config.py PAnnealTrainerConfig): p_end = 0.2; PAnnealTrainer's default is 0.
        p_end: float = 0.2,
        # SAEBench: anneal_start = 10000 steps of 244k (about 4%); PAnnealTrainer's default is step 15000.
        anneal_start: float = 0.04,
        # PAnnealTrainer: anneal_end defaults to the total number of steps.
        anneal_end: float = 1.0,
        # PAnnealTrainer / demo_config.py: n_sparsity_updates = 10.
        n_sparsity_updates: int = 10,
        # PAnnealTrainer / demo_config.py: sparsity_queue_length = 10 steps.
        sparsity_queue_length: int = 10,
    ):
        super().__init__(d_in, width)
        if l1_coefficient < 0:
            raise ValueError(f"l1_coefficient must be non-negative, got {l1_coefficient}")
        if sparsity_function not in _SPARSITY_FUNCTIONS:
            raise ValueError(f"sparsity_function must be one of {_SPARSITY_FUNCTIONS}, got {sparsity_function!r}")
        for name, value in (("sparsity_warmup", sparsity_warmup), ("anneal_start", anneal_start),
                            ("anneal_end", anneal_end)):
            check_fraction(name, value)
        if anneal_start > anneal_end:
            raise ValueError(f"anneal_start ({anneal_start}) must not be after anneal_end ({anneal_end})")
        if int(n_sparsity_updates) != n_sparsity_updates or n_sparsity_updates < 1:
            raise ValueError(f"n_sparsity_updates must be a positive integer, got {n_sparsity_updates}")
        if int(sparsity_queue_length) != sparsity_queue_length or sparsity_queue_length < 1:
            raise ValueError(f"sparsity_queue_length must be a positive integer, got {sparsity_queue_length}")
        if p_start <= 0 or p_end < 0:
            raise ValueError(f"need p_start > 0 and p_end >= 0, got {p_start} and {p_end}")
        if sparsity_function == "Lp" and p_end == 0:
            # (sum f^p)^(1/p) is undefined at p = 0; the reference would divide by zero
            # once p_end becomes the "next p" of the last stage.
            raise ValueError("sparsity_function='Lp' needs p_end > 0")
        self.l1_coefficient = l1_coefficient
        self.sparsity_warmup = sparsity_warmup
        self.sparsity_function = sparsity_function
        self.p_start = p_start
        self.p_end = p_end
        self.anneal_start = anneal_start
        self.anneal_end = anneal_end
        self.n_sparsity_updates = int(n_sparsity_updates)
        self.sparsity_queue_length = int(sparsity_queue_length)

        n = self.n_sparsity_updates
        self._p_values = torch.linspace(p_start, p_end, n, dtype=torch.float64).tolist()
        spacing = (anneal_end - anneal_start) / (n - 1) if n > 1 else 0.0
        self._update_points = [anneal_start + k * spacing for k in range(n)]

        # Running state of the coefficient rescaling (see the module docstring):
        # penalty_scale: product of the rescalings so far, multiplies l1_coefficient;
        # stage: how many update points have been passed and acted on;
        # lp_queue: ring buffer of recent (penalty at current p, penalty at next p);
        # lp_queue_count: how many entries were ever written to lp_queue.
        self.register_buffer("penalty_scale", torch.ones((), dtype=torch.float64))
        self.register_buffer("stage", torch.zeros((), dtype=torch.long))
        self.register_buffer("lp_queue", torch.zeros(self.sparsity_queue_length, 2, dtype=torch.float64))
        self.register_buffer("lp_queue_count", torch.zeros((), dtype=torch.long))

    def hyperparameters(self) -> dict:
        return {
            "l1_coefficient": self.l1_coefficient, "sparsity_warmup": self.sparsity_warmup,
            "sparsity_function": self.sparsity_function, "p_start": self.p_start, "p_end": self.p_end,
            "anneal_start": self.anneal_start, "anneal_end": self.anneal_end,
            "n_sparsity_updates": self.n_sparsity_updates, "sparsity_queue_length": self.sparsity_queue_length,
        }

    # ReLUSAE's encoder and initialisation; a separate class (not a subclass) so
    # that isinstance checks for ReLUSAE do not match P-anneal SAEs.
    encode = ReLUSAE.encode
    init_weights = ReLUSAE.init_weights

    # -- p schedule ------------------------------------------------------------------
    def _points_passed(self, progress: float, inclusive: bool) -> int:
        # A tolerance so that a step whose progress equals a point up to rounding
        # (e.g. 0.2 + 0.2 vs 0.4) counts as being at that point.
        if inclusive:
            return sum(point <= progress + _TOLERANCE for point in self._update_points)
        return sum(point < progress - _TOLERANCE for point in self._update_points)

    def _p_and_next(self, stage: int) -> tuple[float, float | None]:
        """p after ``stage`` update points, and the p of the next stage (None before the first point)."""
        if stage == 0:
            return self.p_start, None
        p = self._p_values[stage - 1]
        return p, (self._p_values[stage] if stage < self.n_sparsity_updates else self.p_end)

    def p_at(self, progress: float) -> float:
        """The p used for the training step at ``progress``. At an update point
        itself the previous p still applies; the new one starts with the next step."""
        return self._p_and_next(self._points_passed(progress, inclusive=False))[0]

    # -- loss ---------------------------------------------------------------------
    def lp_penalty(self, latents: torch.Tensor, p: float) -> torch.Tensor:
        """``S_p`` of each row, averaged over the batch. Zero latents contribute 0
        with a zero (not NaN) gradient, also for p < 1."""
        active = latents > 0
        powered = torch.where(active, torch.where(active, latents, 1.0).pow(p), 0.0)
        per_row = powered.sum(dim=-1)
        if self.sparsity_function == "Lp":
            nonzero = per_row > 0
            per_row = torch.where(nonzero, torch.where(nonzero, per_row, 1.0).pow(1.0 / p), 0.0)
        return per_row.mean()

    def training_loss(self, x: torch.Tensor, dead: torch.Tensor, progress: float = 0.0) -> TrainingLoss:
        p, next_p = self._p_and_next(self._points_passed(progress, inclusive=False))
        latents = self.encode(x)
        recon = self.decode(latents)
        mse = (x - recon).pow(2).sum(dim=-1).mean()
        lp = self.lp_penalty(latents, p)
        warmup = sparsity_warmup_scale(progress, self.sparsity_warmup)
        # a Python float: the buffer is updated in place below, after the graph is built
        coefficient = self.l1_coefficient * self.penalty_scale.item() * warmup
        loss = mse + coefficient * lp
        with torch.no_grad():
            self._update_penalty_scale(latents.detach(), lp.detach(), next_p, progress)
        return TrainingLoss(loss=loss, fvu=fvu(x, recon), fired=(latents > 0).any(dim=0))

    def _update_penalty_scale(self, latents: torch.Tensor, lp: torch.Tensor, next_p: float | None,
                              progress: float) -> None:
        if next_p is not None:
            slot = int(self.lp_queue_count) % self.sparsity_queue_length
            self.lp_queue[slot, 0] = lp
            self.lp_queue[slot, 1] = self.lp_penalty(latents, next_p)
            self.lp_queue_count += 1
        reached = self._points_passed(progress, inclusive=True)
        if reached <= int(self.stage):
            return
        filled = min(int(self.lp_queue_count), self.sparsity_queue_length)
        if int(self.stage) >= 1 and filled:  # the first point only fixes the next p
            current, following = self.lp_queue[:filled].mean(dim=0)
            if following > 0:
                self.penalty_scale *= current / following
        self.stage.fill_(reached)
