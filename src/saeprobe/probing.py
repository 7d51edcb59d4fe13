"""Probe experiments: fit probes on one dataset's split and record the metrics.

Each function returns a table with one row per fitted probe and the columns
of ``RESULT_COLUMNS``; the workflow writes one such table per job.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from saeprobe.probes import TopLatentProbe, ValidatedLogisticRegression, binary_metrics, k_grid
from saeprobe.splits import normal_split

RESULT_COLUMNS = [
    "model", "dataset", "setting", "method", "layer", "sae", "k",
    "C", "val_auc", "test_auc", "test_acc", "test_f1", "n_train", "n_test",
]


def _fit_and_score(probe, X, y, train, test) -> dict:
    probe.fit(X[train], y[train])
    return {
        "C": probe.C_, "val_auc": probe.val_auc_,
        **binary_metrics(probe, X[test], y[test]),
        "n_train": len(train), "n_test": len(test),
    }


def baseline_normal(activations: np.ndarray, labels: np.ndarray, engine: str = "batched", **ids) -> pd.DataFrame:
    """L2 logistic regression on raw activations, normal setting.

    ``ids`` fills the identifying columns (model, dataset, layer).
    """
    train, test = normal_split(labels)
    row = _fit_and_score(ValidatedLogisticRegression(penalty="l2", engine=engine), activations, labels, train, test)
    return _table([{**ids, "setting": "normal", "method": "logreg_l2", "sae": "", "k": pd.NA, **row}])


def sae_probes_normal(latents, labels: np.ndarray, ks: Iterable[int] | None = None,
                      ranking: str = "normalized", engine: str = "batched", **ids) -> pd.DataFrame:
    """Top-k latent L1 probes for each k (the reference grid capped at the width)."""
    train, test = normal_split(labels)
    ks = k_grid(latents.shape[1]) if ks is None else [k for k in ks if k <= latents.shape[1]]
    rows = [
        {**ids, "setting": "normal", "method": "sae_topk_l1", "k": k,
         **_fit_and_score(TopLatentProbe(k=k, ranking=ranking, engine=engine), latents, labels, train, test)}
        for k in ks
    ]
    return _table(rows)


def _table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in RESULT_COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    frame = frame[RESULT_COLUMNS]
    frame["k"] = frame["k"].astype("Int64")
    frame["layer"] = frame["layer"].astype("Int64")
    return frame
