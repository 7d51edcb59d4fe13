"""The sequence corpus of temporal SAEs (``analysis-methods.md`` §5.3): rows of
consecutive tokens in their order, the BOS left out as the reference leaves
it out, and norm outliers masked where the token corpus drops them, so that
no pair spans a token that was taken away.

``SequenceShards`` streams it to the trainer with ``ActivationShards``'s
interface: single tokens for any SAE, pairs for one that ``trains_on_pairs``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from saeprobe.activations import norm_outliers
from saeprobe.paths import sequence_file_name, sequence_valid_file_name
from saeprobe.temporal.pairs import draw_pairs


def sequence_rows(acts: np.ndarray, max_ratio: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """``acts`` ``[rows, ctx, d]``, each row opening with BOS: ``[rows, ctx - 1, d]``
    without the BOS, and ``[rows, ctx - 1]`` true where a token is no norm
    outlier (the median taken over the whole corpus)."""
    body = np.asarray(acts)[:, 1:]
    return body, ~norm_outliers(body, max_ratio)


class SequenceShards:
    """One layer of the sequence corpus: training shards, memory-mapped, and
    held-out shards for evaluation.

    ``pair_mode`` (settable: the SAE, built once ``d_in`` is known, decides
    it) None: ``train_batch`` gives ``[batch, d]`` tokens drawn uniformly
    from the valid training tokens; "r" or "p": ``[batch, 2, d]``
    pairs (x_t, x_t') within a row (``draw_pairs``), a pair touching a masked
    token drawn again.
    """

    def __init__(self, train_folders: list[str | Path], eval_folders: list[str | Path], layer: int,
                 pair_mode: str | None = None):
        self.paths = [Path(f) / sequence_file_name(layer) for f in train_folders]
        self.arrays, self.valid = self._open(train_folders, layer)
        self.eval_arrays, self.eval_valid = self._open(eval_folders, layer)
        shapes = {a.shape[1:] for a in self.arrays + self.eval_arrays}
        if len(shapes) != 1:
            raise ValueError(f"sequence shards of layer {layer} differ in shape: "
                             f"{[a.shape for a in self.arrays + self.eval_arrays]}")
        self.length, self.d_in = shapes.pop()
        self.pair_mode = pair_mode
        self._row_offsets = np.cumsum([0] + [len(a) for a in self.arrays])
        # Valid training tokens as flat (row * length + t) indices, for single-token draws.
        self._flat_valid = np.concatenate([np.flatnonzero(v) + offset * self.length
                                           for v, offset in zip(self.valid, self._row_offsets)])
        self.n_train = len(self._flat_valid)
        self.n_eval = int(sum(v.sum() for v in self.eval_valid))
        if self.n_train == 0:
            raise ValueError(f"no valid training tokens in sequence shards {[str(p) for p in self.paths]}")

    @staticmethod
    def _open(folders, layer):
        arrays = [np.load(Path(f) / sequence_file_name(layer), mmap_mode="r") for f in folders]
        valid = [np.load(Path(f) / sequence_valid_file_name(layer)) for f in folders]
        for folder, a, v in zip(folders, arrays, valid):
            if a.ndim != 3 or v.shape != a.shape[:2]:
                raise ValueError(f"{folder}: layer {layer} holds sequences {a.shape} with a mask {v.shape}; "
                                 "expected [rows, length, d] and [rows, length]")
        return arrays, valid

    def _gather(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), self.d_in), np.float32)
        shard_of = np.searchsorted(self._row_offsets, rows, side="right") - 1
        for shard in np.unique(shard_of):
            where = shard_of == shard
            out[where] = self.arrays[shard][rows[where] - self._row_offsets[shard], t[where]]
        return out

    def _is_valid(self, rows: np.ndarray, t: np.ndarray) -> np.ndarray:
        shard_of = np.searchsorted(self._row_offsets, rows, side="right") - 1
        ok = np.empty(len(rows), bool)
        for shard in np.unique(shard_of):
            where = shard_of == shard
            ok[where] = self.valid[shard][rows[where] - self._row_offsets[shard], t[where]]
        return ok

    def train_batch(self, step: int, batch_size: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng([seed, step])
        if self.pair_mode is None:
            flat = np.sort(self._flat_valid[rng.integers(0, self.n_train, size=batch_size)])
            return self._gather(flat // self.length, flat % self.length)
        rows, now, prev = (np.empty(0, np.int64),) * 3
        while len(rows) < batch_size:
            r, t, t_prev = draw_pairs(int(self._row_offsets[-1]), self.length, batch_size, self.pair_mode, rng)
            keep = self._is_valid(r, t) & self._is_valid(r, t_prev)
            rows, now, prev = (np.concatenate([a, b[keep]]) for a, b in ((rows, r), (now, t), (prev, t_prev)))
        rows, now, prev = rows[:batch_size], now[:batch_size], prev[:batch_size]
        return np.stack([self._gather(rows, now), self._gather(rows, prev)], axis=1)

    def eval_rows(self, max_rows: int | None = None) -> np.ndarray:
        """The valid held-out tokens, ``[n, d]``."""
        rows = np.concatenate([np.asarray(a)[v] for a, v in zip(self.eval_arrays, self.eval_valid)]).astype(np.float32)
        return rows[:max_rows] if max_rows else rows


def heldout_sequences(folders: list[str | Path], layer: int) -> tuple[np.ndarray, int]:
    """The rows of sequence shards without a masked token, ``[rows, length, d]``
    float32, and how many rows were left out for holding one (a masked token
    would join its neighbours into a step that never happened)."""
    acts = np.concatenate([np.load(Path(f) / sequence_file_name(layer)) for f in folders]).astype(np.float32)
    whole = np.concatenate([np.load(Path(f) / sequence_valid_file_name(layer)) for f in folders]).all(axis=1)
    return acts[whole], int((~whole).sum())
