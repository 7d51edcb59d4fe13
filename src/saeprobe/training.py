"""SAE training: a streaming activation source and a resumable trainer.

Activations are read from ``.npy`` shards with memory mapping, so memory is
bounded by what one batch touches, not by the corpus. Batch ``s`` is drawn
by a generator seeded with ``(seed, s)``, so a run resumed from a checkpoint
sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math
import signal
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

import numpy as np
import torch

from saeprobe.atomic import atomic_path
from saeprobe.optim import ScheduleFreeSignum
from saeprobe.saes.base import SparseAutoencoder

if TYPE_CHECKING:
    from saeprobe.temporal.sequences import SequenceShards


class ActivationShards:
    """Rows of several ``[n, d_in]`` ``.npy`` shards, split into train and held-out.

    Every ``eval_stride``-th row of each shard is held out (rows 0, s, 2s, ...),
    which spreads the held-out set evenly over datasets and prompt lengths.
    """

    def __init__(self, paths: list[str | Path], eval_stride: int = 20):
        if eval_stride < 2:
            raise ValueError("eval_stride must be at least 2")
        self.paths = [Path(p) for p in paths]
        self.arrays = [np.load(p, mmap_mode="r") for p in self.paths]
        dims = {a.shape[1] for a in self.arrays if a.ndim == 2}
        if len(dims) != 1 or any(a.ndim != 2 for a in self.arrays):
            raise ValueError(f"shards must be 2-D with one common width, got shapes {[a.shape for a in self.arrays]}")
        self.d_in = dims.pop()
        self.eval_stride = eval_stride
        sizes = np.array([len(a) for a in self.arrays])
        self._n_eval = -(-sizes // eval_stride)  # ceil
        self._train_offsets = np.concatenate([[0], np.cumsum(sizes - self._n_eval)])
        self.n_train = int(self._train_offsets[-1])
        self.n_eval = int(self._n_eval.sum())
        if self.n_train == 0:
            raise ValueError(f"no training rows in shards {[str(p) for p in self.paths]}")

    def train_batch(self, step: int, batch_size: int, seed: int) -> np.ndarray:
        """Rows drawn uniformly (with replacement) from the training part."""
        rng = np.random.default_rng([seed, step])
        picks = np.sort(rng.integers(0, self.n_train, size=batch_size))
        shard_of = np.searchsorted(self._train_offsets, picks, side="right") - 1
        out = np.empty((batch_size, self.d_in), np.float32)
        for shard in np.unique(shard_of):
            where = shard_of == shard
            j = picks[where] - self._train_offsets[shard]
            rows = j + j // (self.eval_stride - 1) + 1  # skip the held-out rows
            out[where] = self.arrays[shard][rows]
        return out

    def eval_rows(self, max_rows: int | None = None) -> np.ndarray:
        parts = [a[:: self.eval_stride] for a in self.arrays]
        rows = np.concatenate(parts).astype(np.float32)
        return rows[:max_rows] if max_rows else rows


@dataclass
class TrainConfig:
    """Optimisation settings; the defaults are sparsify's where it has one."""

    steps: int = 300
    batch_size: int = 4096
    optimizer: Literal["signum", "adam"] = "signum"
    """``signum``: schedule-free sign descent, sparsify's default (see
    ``saeprobe.optim``); ``adam``: Adam with betas (0.9, 0.999), the
    optimiser of dictionary_learning and SAELens."""
    lr: float | None = None
    """``None`` means sparsify's width-scaled default: ``5e-3 / sqrt(width / 2**14)``
    for signum, ``2e-4 / sqrt(width / 2**14)`` for Adam."""
    warmup_steps: int = 0
    """Linear learning-rate warmup."""
    decay_fraction: float | None = None
    """The last fraction of steps decays the learning rate linearly to zero.
    ``None`` means 0.2 for Adam and 0 for signum, whose averaging replaces decay."""
    dead_tokens: int = 200_000
    """A latent counts as dead after this many training rows without firing."""
    seed: int = 0
    checkpoint_every: int = 50
    normalize_inputs: bool = True
    """Train on inputs scaled to unit mean squared norm, then fold the factor
    into the biases (Gemma Scope, Lieberum et al. 2024, section 3.1, and
    dictionary_learning), so sparsity coefficients transfer across models and
    layers; the saved SAE reads raw activations."""

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be positive")
        if self.optimizer not in ("signum", "adam"):
            raise ValueError(f"optimizer must be 'signum' or 'adam', got {self.optimizer!r}")
        if self.decay_fraction is not None and not 0 <= self.decay_fraction <= 1:
            raise ValueError("decay_fraction must be within [0, 1]")

    def learning_rate(self, width: int, step: int) -> float:
        default_lr = 5e-3 if self.optimizer == "signum" else 2e-4
        base = self.lr if self.lr is not None else default_lr / math.sqrt(width / 2**14)
        decay_fraction = self.decay_fraction
        if decay_fraction is None:
            decay_fraction = 0.0 if self.optimizer == "signum" else 0.2
        scale = 1.0
        if step < self.warmup_steps:
            scale = (step + 1) / self.warmup_steps
        decay_start = self.steps * (1 - decay_fraction)
        if decay_fraction and step >= decay_start:
            scale = min(scale, (self.steps - step) / (self.steps - decay_start))
        return base * scale

    def make_optimizer(self, sae: SparseAutoencoder, input_rms: float = 1.0) -> torch.optim.Optimizer:
        """Each parameter group carries ``lr_factor``, its multiple of ``learning_rate``.

        Sign descent steps every entry by the full lr whatever its gradient's
        size. Where ``sae.signum_bias_lr`` is set, the tensors in input units
        (``b_enc``, ``b_dec``, ``scaled_with_input``) step by
        ``sae.signum_bias_lr * input_rms`` times it, ``input_rms`` being the
        root mean squared norm of the inputs the SAE trains on (1 when
        ``normalize_inputs``): the same steps relative to the data at any scale."""
        lr = self.learning_rate(sae.width, 0)
        if self.optimizer == "adam" or sae.signum_bias_lr is None:
            params = [{"params": list(sae.parameters()), "lr_factor": 1.0}]
            if self.optimizer == "adam":
                return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
            return ScheduleFreeSignum(params, lr=lr, average_power=sae.signum_average_power)
        in_input_units = {"b_enc", "b_dec", *sae.scaled_with_input}
        named = list(sae.named_parameters())
        factor = sae.signum_bias_lr * input_rms
        groups = [{"params": [p for n, p in named if n not in in_input_units], "lr_factor": 1.0},
                  {"params": [p for n, p in named if n in in_input_units], "lr_factor": factor, "lr": lr * factor}]
        return ScheduleFreeSignum([g for g in groups if g["params"]], lr=lr,
                                  average_power=sae.signum_average_power)


class _StopRequested:
    """Turns SIGTERM (Slurm preemption, Snakemake shutdown) into a flag."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: rely on periodic checkpoints
            self._previous = None
        return self

    def _handle(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def train_sae(
    sae: SparseAutoencoder,
    data: "ActivationShards | SequenceShards",
    cfg: TrainConfig,
    checkpoint_path: str | Path,
    log: Callable[[str], None] = print,
    device: str | None = None,
) -> SparseAutoencoder:
    """Train ``sae`` for ``cfg.steps`` steps, resuming from ``checkpoint_path`` if it exists.

    ``data`` gives batches of tokens, or of pairs of tokens of one sequence
    for an SAE that ``trains_on_pairs`` (a ``SequenceShards`` with its pair mode).

    The checkpoint is written every ``cfg.checkpoint_every`` steps and on
    SIGTERM (after which ``SystemExit(143)`` is raised). It is left in place
    after training; the caller removes it once the final SAE is saved.
    """
    pairs = getattr(data, "pair_mode", None) is not None
    if sae.trains_on_pairs and not pairs:
        raise ValueError(f"a {sae.architecture} SAE trains on pairs of a sequence: "
                         "give it SequenceShards with a pair_mode")
    if pairs and not sae.trains_on_pairs:
        raise ValueError(f"a {sae.architecture} SAE trains on single tokens: give it data without a pair_mode")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    checkpoint_path = Path(checkpoint_path)
    run_signature = {"train": asdict(cfg), "sae": sae.config(), "shards": [str(p) for p in data.paths]}
    if pairs:
        run_signature["pairs"] = data.pair_mode
    if cfg.optimizer == "signum" and (sae.signum_bias_lr is not None or sae.signum_average_power):
        # Earlier checkpoints of these settings were trained with one learning rate and uniform averaging.
        run_signature["signum"] = {"bias_lr": sae.signum_bias_lr, "average_power": sae.signum_average_power}
    sae.to(device)
    input_rms = input_norm_factor(data, cfg)
    scale = input_rms if cfg.normalize_inputs else 1.0
    optimizer = cfg.make_optimizer(sae, input_rms / scale)
    rows_since_fired = torch.zeros(sae.width, dtype=torch.long, device=device)
    start = 0
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        if state["signature"] == run_signature:
            sae.load_state_dict(state["sae"])
            optimizer.load_state_dict(state["optimizer"])
            rows_since_fired = state["rows_since_fired"].to(device)
            start = state["step"]
            log(f"resuming from checkpoint {checkpoint_path} at step {start} of {cfg.steps}")
        else:
            log(f"ignoring checkpoint {checkpoint_path}: it was written for other settings")
    if start == 0:
        generator = torch.Generator().manual_seed(cfg.seed)
        first = torch.from_numpy(data.train_batch(0, cfg.batch_size, cfg.seed)) / scale
        sae.init_weights(generator, data_mean=first.reshape(-1, data.d_in).mean(dim=0))
        sae.to(device)
        log(f"training {sae.architecture} SAE (width {sae.width}) from scratch for {cfg.steps} steps")

    def save_checkpoint(step: int) -> None:
        state = {
            "step": step, "signature": run_signature, "sae": sae.state_dict(),
            "optimizer": optimizer.state_dict(), "rows_since_fired": rows_since_fired,
        }
        with atomic_path(checkpoint_path) as tmp:
            torch.save(state, tmp)

    with _StopRequested() as stop:
        for step in range(start, cfg.steps):
            for group in optimizer.param_groups:
                group["lr"] = cfg.learning_rate(sae.width, step) * group.get("lr_factor", 1.0)
            x = torch.from_numpy(data.train_batch(step, cfg.batch_size, cfg.seed) / scale).to(device)
            out = sae.training_loss(x, dead=rows_since_fired >= cfg.dead_tokens, progress=step / cfg.steps)
            out.loss.backward()
            if sae.unit_norm_decoder:
                sae.remove_parallel_decoder_grad()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if sae.unit_norm_decoder:
                sae.normalize_decoder()
            rows_since_fired += len(x)
            rows_since_fired[out.fired] = 0
            done = step + 1
            if done % 25 == 0 or done == cfg.steps:
                dead = (rows_since_fired >= cfg.dead_tokens).float().mean().item()
                log(f"step {done}: fvu {out.fvu.item():.4f}, dead {dead:.3f}")
            if stop.requested:
                save_checkpoint(done)
                log(f"SIGTERM: saved checkpoint at step {done}; rerun to resume")
                raise SystemExit(143)
            if done % cfg.checkpoint_every == 0 and done < cfg.steps:
                save_checkpoint(done)
    if isinstance(optimizer, ScheduleFreeSignum):
        optimizer.use_average()
    sae.scale_biases(scale)
    return sae


def input_norm_factor(data: "ActivationShards | SequenceShards", cfg: TrainConfig, n_batches: int = 10) -> float:
    """sqrt(mean squared norm) over the first training batches (deterministic,
    so a resumed run computes the same factor)."""
    rows = np.concatenate([data.train_batch(s, cfg.batch_size, cfg.seed) for s in range(min(n_batches, cfg.steps))])
    return float(np.sqrt(np.mean(np.sum(rows.astype(np.float64) ** 2, axis=-1))))


DENSE_FREQUENCY = 0.1
"""Latents firing on more than this fraction of held-out rows count as dense."""


@torch.no_grad()
def evaluate_sae(sae: SparseAutoencoder, x: np.ndarray, batch_size: int = 4096) -> dict[str, float]:
    """Held-out reconstruction quality of an SAE on activation rows ``x``.

    ``fve`` = 1 - SSE / sum of squares of the centred input; ``cosine`` is the
    mean cosine similarity of each row with its reconstruction; ``dead`` and
    ``dense`` fractions count latents that never fire / fire on more than
    ``DENSE_FREQUENCY`` of the rows.
    """
    sae.eval()
    device = next(sae.parameters()).device
    x_t = torch.from_numpy(np.asarray(x, np.float32))
    mean = x_t.mean(dim=0).to(device)
    sse = total = l0 = cosine = 0.0
    fire_counts = torch.zeros(sae.width, device=device)
    for start in range(0, len(x_t), batch_size):
        chunk = x_t[start:start + batch_size].to(device)
        latents = sae.encode(chunk)
        recon = sae.decode(latents)
        sse += (chunk - recon).pow(2).sum().item()
        total += (chunk - mean).pow(2).sum().item()
        cosine += torch.nn.functional.cosine_similarity(chunk, recon, dim=1).sum().item()
        active = latents != 0
        l0 += active.sum().item()
        fire_counts += active.sum(dim=0)
    n = len(x_t)
    frequency = fire_counts / n
    return {
        "n_eval_rows": n,
        "l0": l0 / n,
        "mse": sse / (n * sae.d_in),
        "fve": 1.0 - sse / total,
        "cosine": cosine / n,
        "dead_fraction": (frequency == 0).float().mean().item(),
        "dense_fraction": (frequency > DENSE_FREQUENCY).float().mean().item(),
    }
