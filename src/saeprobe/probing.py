"""Probe experiments: fit one method on one dataset under one setting.

A setting (``saeprobe.settings``) turns a dataset's labels into cases, one
per grid value, each with its training rows, training labels and test rows.
``baseline_table`` and ``sae_probe_table`` fit a probe on every case and
return one row per fit, with the columns of ``RESULT_COLUMNS``; the workflow
writes one such table per job. A grid value the dataset cannot afford
becomes a row with ``skipped`` saying why. A fit with no validation split
(n <= 3, or no split holding both classes) reports its training AUC as
``val_auc``, as the reference does, and ``val_auc_is_train_auc`` says so.
``solver_converged`` says whether every fit of a logistic probe's search
and its refit met the solver's tolerance (empty for the other baselines).
Given the rows' texts, ``n_test_in_train`` counts the test rows whose text is
also a training row's (the reference's datasets repeat some prompts).
"""

from __future__ import annotations

import json
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from saeprobe import settings
from saeprobe.methods import SAE_METHOD

# The estimators (sklearn, xgboost, torch) are imported by the functions that
# fit them: importing this module stays cheap.

RESULT_COLUMNS = [
    "model", "dataset", "setting", "setting_value", "method", "layer", "sae", "k",
    "params", "val_auc", "val_auc_is_train_auc", "solver_converged", "test_auc", "test_acc", "test_f1",
    "n_train", "n_test", "n_test_in_train", "skipped",
]


def _logreg_l2(engine: str, n_jobs: int):
    from saeprobe.probes import ValidatedLogisticRegression

    return ValidatedLogisticRegression(penalty="l2", engine=engine)


def _baseline(class_name: str, takes_n_jobs: bool = False) -> Callable:
    """A factory of the ``saeprobe.baselines`` class ``class_name``, imported when called."""
    def make(engine: str, n_jobs: int):
        from saeprobe import baselines

        cls = getattr(baselines, class_name)
        return cls(n_jobs=n_jobs) if takes_n_jobs else cls()
    return make


# Baselines on raw activations, by the name used in paths and tables:
# (engine, n_jobs) -> an unfitted estimator.
BASELINES = {
    "logreg_l2": _logreg_l2,
    "ridge": _baseline("RidgeProbe"),
    "pca_logreg": _baseline("PCALogisticProbe"),
    "knn": _baseline("KNNProbe"),
    "xgboost": _baseline("XGBoostProbe", takes_n_jobs=True),
    "mlp": _baseline("MLPProbe"),
}


def baseline_table(method: str, activations: np.ndarray, labels: np.ndarray, setting: str = "normal",
                   grid=None, ood: tuple[np.ndarray, np.ndarray] | None = None, engine: str = "batched",
                   n_jobs: int = 1, texts: tuple[np.ndarray, np.ndarray | None] | None = None,
                   **ids) -> pd.DataFrame:
    """One baseline (a key of ``BASELINES``) on raw activations, every case of a setting.

    ``ood`` is the OOD set's (activations, labels), needed in the OOD setting.
    ``texts`` is the rows' texts and the OOD set's (or None), for ``n_test_in_train``.
    ``ids`` fills the identifying columns (model, dataset, layer).
    """
    if method not in BASELINES:
        raise ValueError(f"unknown baseline {method!r}; choose from {', '.join(BASELINES)}")
    rows = _fit_cases(lambda: BASELINES[method](engine, n_jobs), activations, labels, setting, grid, ood, texts,
                      {**ids, "method": method, "sae": ""})
    return _table(rows)


def sae_probe_table(latents, labels: np.ndarray, ks: Iterable[int] | None = None, setting: str = "normal",
                    grid=None, ood=None, ranking: str = "normalized", engine: str = "batched",
                    texts: tuple[np.ndarray, np.ndarray | None] | None = None, **ids) -> pd.DataFrame:
    """Top-k latent L1 probes for each k (capped at the SAE width), every case of a setting."""
    from saeprobe.probes import TopLatentProbe, k_grid

    ks = k_grid(latents.shape[1]) if ks is None else k_grid(latents.shape[1], ks)
    rows = []
    for k in ks:
        rows += _fit_cases(lambda: TopLatentProbe(k=k, ranking=ranking, engine=engine), latents, labels,
                           setting, grid, ood, texts, {**ids, "method": SAE_METHOD, "k": k})
    return _table(rows)


def _fit_cases(make_probe: Callable, X, labels, setting_name, grid, ood, texts, ids: dict) -> list[dict]:
    from saeprobe.probes import binary_metrics

    spec = settings.setting(setting_name)
    cases = spec.cases(labels, grid, None if ood is None else ood[1])
    X_test, y_test = ood if spec.uses_ood_data else (X, np.asarray(labels))
    if texts is not None:
        train_texts = np.asarray(texts[0], dtype=object)
        test_texts = np.asarray(texts[1] if spec.uses_ood_data else texts[0], dtype=object)
    rows = []
    for case in cases:
        row = {**ids, "setting": setting_name, "setting_value": case.value}
        if case.skipped:
            rows.append({**row, "skipped": case.skipped})
            continue
        probe = make_probe().fit(X[case.train], case.train_labels)
        rows.append({
            **row, "params": json.dumps(probe.best_params_, default=_plain), "val_auc": probe.val_auc_,
            "val_auc_is_train_auc": probe.val_scores_.size == 0,
            "solver_converged": getattr(probe, "solver_converged_", pd.NA),
            **binary_metrics(probe, X_test[case.test], y_test[case.test]),
            "n_train": len(case.train), "n_test": len(case.test), "skipped": "",
            "n_test_in_train": (pd.NA if texts is None else
                                int(np.isin(test_texts[case.test], train_texts[case.train]).sum())),
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
    for column in ("k", "layer", "n_train", "n_test", "n_test_in_train"):
        frame[column] = frame[column].astype("Int64")
    frame["setting_value"] = frame["setting_value"].astype("Float64")
    for column in ("val_auc_is_train_auc", "solver_converged"):
        frame[column] = frame[column].astype("boolean")
    return frame
