"""Probe experiments: fit one method on one dataset under one setting.

A setting turns a dataset's labels into cases, one per grid value (a training
size, a positive fraction, a flip fraction), each with its training rows,
training labels and test rows. ``baseline_table`` and ``sae_probe_table`` fit
a probe on every case and return one row per fit, with the columns of
``RESULT_COLUMNS``; the workflow writes one such table per job. A grid value
the dataset cannot afford becomes a row with ``skipped`` saying why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from saeprobe.baselines import KNNProbe, MLPProbe, PCALogisticProbe, RidgeProbe, XGBoostProbe
from saeprobe.config import SAE_METHOD
from saeprobe.probes import TopLatentProbe, ValidatedLogisticRegression, binary_metrics, k_grid
from saeprobe.splits import (
    IMBALANCE_POSITIVE_FRACTIONS, NOISE_FLIP_FRACTIONS, SCARCITY_TRAIN_SIZES, SettingSkipped, flip_labels,
    imbalance_split, normal_split, ood_train_rows, scarcity_split,
)

RESULT_COLUMNS = [
    "model", "dataset", "setting", "setting_value", "method", "layer", "sae", "k",
    "params", "val_auc", "test_auc", "test_acc", "test_f1", "n_train", "n_test", "skipped",
]

# Each setting's grid, as the reference runs it; None: the setting has no grid.
REFERENCE_GRIDS = {
    "normal": None,
    "scarcity": SCARCITY_TRAIN_SIZES,
    "imbalance": IMBALANCE_POSITIVE_FRACTIONS,
    "label_noise": NOISE_FLIP_FRACTIONS,
    "ood": None,
}
SETTINGS = tuple(REFERENCE_GRIDS)

# Baselines on raw activations, by the name used in paths and tables.
BASELINES = {
    "logreg_l2": lambda engine, n_jobs: ValidatedLogisticRegression(penalty="l2", engine=engine),
    "ridge": lambda engine, n_jobs: RidgeProbe(),
    "pca_logreg": lambda engine, n_jobs: PCALogisticProbe(),
    "knn": lambda engine, n_jobs: KNNProbe(),
    "xgboost": lambda engine, n_jobs: XGBoostProbe(n_jobs=n_jobs),
    "mlp": lambda engine, n_jobs: MLPProbe(),
}


@dataclass(frozen=True)
class Case:
    """One grid point of a setting: what to train on and what to test on."""

    value: float | None
    train: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    test: np.ndarray | None = None
    skipped: str = ""


def setting_cases(setting: str, labels: np.ndarray, grid: Iterable[float] | None = None,
                  ood_labels: np.ndarray | None = None) -> list[Case]:
    """The cases of ``setting`` on a dataset with ``labels``.

    ``grid`` defaults to the reference's. In the OOD setting the test rows
    index the OOD set (``ood_labels``), not the dataset.
    """
    if setting not in REFERENCE_GRIDS:
        raise ValueError(f"unknown setting {setting!r}; choose one of {', '.join(SETTINGS)}")
    labels = np.asarray(labels)
    grid = REFERENCE_GRIDS[setting] if grid is None else tuple(grid)
    if setting == "normal":
        train, test = normal_split(labels)
        return [Case(None, train, labels[train], test)]
    if setting == "ood":
        if ood_labels is None:
            raise ValueError("the OOD setting needs the OOD set's labels")
        train = ood_train_rows(labels)
        return [Case(None, train, labels[train], np.arange(len(ood_labels)))]
    if setting == "label_noise":
        train, test = normal_split(labels)
        return [Case(f, train, flip_labels(labels[train], f), test) for f in grid]
    cases = []
    for value in grid:
        try:
            if setting == "scarcity":
                train, test = scarcity_split(labels, int(value))
            else:
                train, test = imbalance_split(labels, value, fractions=grid)
        except SettingSkipped as why:
            cases.append(Case(value, skipped=str(why)))
            continue
        cases.append(Case(value, train, labels[train], test))
    return cases


def baseline_table(method: str, activations: np.ndarray, labels: np.ndarray, setting: str = "normal",
                   grid=None, ood: tuple[np.ndarray, np.ndarray] | None = None, engine: str = "batched",
                   n_jobs: int = 1, **ids) -> pd.DataFrame:
    """One baseline (a key of ``BASELINES``) on raw activations, every case of a setting.

    ``ood`` is the OOD set's (activations, labels), needed in the OOD setting.
    ``ids`` fills the identifying columns (model, dataset, layer).
    """
    if method not in BASELINES:
        raise ValueError(f"unknown baseline {method!r}; choose from {', '.join(BASELINES)}")
    rows = _fit_cases(lambda: BASELINES[method](engine, n_jobs), activations, labels, setting, grid, ood,
                      {**ids, "method": method, "sae": ""})
    return _table(rows)


def sae_probe_table(latents, labels: np.ndarray, ks: Iterable[int] | None = None, setting: str = "normal",
                    grid=None, ood=None, ranking: str = "normalized", engine: str = "batched",
                    **ids) -> pd.DataFrame:
    """Top-k latent L1 probes for each k (capped at the SAE width), every case of a setting."""
    ks = k_grid(latents.shape[1]) if ks is None else k_grid(latents.shape[1], ks)
    rows = []
    for k in ks:
        rows += _fit_cases(lambda: TopLatentProbe(k=k, ranking=ranking, engine=engine), latents, labels,
                           setting, grid, ood, {**ids, "method": SAE_METHOD, "k": k})
    return _table(rows)


def _fit_cases(make_probe: Callable, X, labels, setting, grid, ood, ids: dict) -> list[dict]:
    cases = setting_cases(setting, labels, grid, None if ood is None else ood[1])
    X_test, y_test = ood if setting == "ood" else (X, np.asarray(labels))
    rows = []
    for case in cases:
        row = {**ids, "setting": setting, "setting_value": case.value}
        if case.skipped:
            rows.append({**row, "skipped": case.skipped})
            continue
        probe = make_probe().fit(X[case.train], case.train_labels)
        rows.append({
            **row, "params": json.dumps(probe.best_params_, default=_plain), "val_auc": probe.val_auc_,
            **binary_metrics(probe, X_test[case.test], y_test[case.test]),
            "n_train": len(case.train), "n_test": len(case.test), "skipped": "",
        })
    return rows


def _plain(value):
    """JSON for numpy scalars and tuples of them (hyperparameter values)."""
    return value.item() if hasattr(value, "item") else str(value)


def _table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in RESULT_COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    frame = frame[RESULT_COLUMNS]
    for column in ("k", "layer", "n_train", "n_test"):
        frame[column] = frame[column].astype("Int64")
    frame["setting_value"] = frame["setting_value"].astype("Float64")
    return frame
