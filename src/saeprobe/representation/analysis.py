"""The representation analyses of one representation over the probed datasets
(analysis-methods.md §6.2-6.4): what one job of the ``representation`` stage computes.

A job takes one *kind* of representation over every probed dataset:

``residual``  the last-token residual at the SAE layer, which gives two rows
              per dataset: ``raw`` (every dimension) and ``logreg`` (the
              ``logistic_top`` dimensions with the largest |coef| of a
              standardised L2 logistic regression fitted on the training rows);
an SAE        its latents of the same rows.

Per dataset (the normal split's training rows, unless a row says otherwise):

- JS separability and salient-neuron overlap (``separability``); an SAE's
  latents pass the firing filter for JSS, as in the seed;
- test AUC of a standardised L2 logistic regression, its C chosen by
  ``probes.ValidatedLogisticRegression`` (the probe stage's protocol, not the
  seed's single 80/20 split), on the representation's dimensions; for an SAE
  on the latents that fire on ``firing_filter`` of the training rows
  (``sae_auc_latents: firing``; ``all`` takes every latent that fires at all,
  the seed's choice, ~25 s a fit at width 4608 here);
- selectivity (``selectivity``) of the ``selectivity_top`` dimensions the
  seed compares: an SAE's by class-mean difference, logreg's by |coef|:
  Gini over all rows of the dataset, Gini across the datasets' positive
  means, and the active fraction.

Across datasets: cluster separation of the datasets' positives
(``clusters``), up to ``cluster_positives`` training positives each, drawn
with seed ``seed`` + the dataset's index as the seed does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from saeprobe.representation.clusters import (MIN_CONCEPTS, cluster_separation, firing_latents,
                                              multiclass_top_dimensions, pairwise_separation)
from saeprobe.representation.selectivity import (concept_gini, frac_active_dense, frac_active_sae, gini,
                                                 top_latents_by_mean_difference)
from saeprobe.representation.separability import FIRING_TAU, TOP_T, js_separability, salient_neuron_overlap

RAW, LOGREG = "raw", "logreg"


@dataclass(frozen=True)
class RepresentationSettings:
    """The stage's settings (config: ``representation``); defaults are the seed's."""

    firing_filter: float = FIRING_TAU
    logistic_top: int = 100
    salient_top: int = TOP_T
    selectivity_top: int = 16
    cluster_positives: int = 64
    sae_auc_latents: Literal["firing", "all"] = "firing"
    seed: int = 42
    engine: str = "batched"


@dataclass(frozen=True)
class DatasetRows:
    """One dataset's matrix ``x`` [rows, dims] (residual or latents), labels and normal split."""

    x: np.ndarray
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray


def standardised_auc(x: np.ndarray, data: DatasetRows, engine: str) -> tuple[float, np.ndarray]:
    """Test AUC and |coef| of a validated L2 logistic regression on the
    standardised columns of ``x`` (the scaler fitted on the training rows)."""
    from saeprobe.probes import ValidatedLogisticRegression, roc_auc

    scaler = StandardScaler().fit(x[data.train])
    probe = ValidatedLogisticRegression(penalty="l2", engine=engine).fit(scaler.transform(x[data.train]),
                                                                          data.y[data.train])
    scores = probe.predict_proba(scaler.transform(x[data.test]))[:, 1]
    return float(roc_auc(data.y[data.test], scores)), np.abs(probe.coef_)


def _scores(name: str, x_dims: np.ndarray, data: DatasetRows, settings: RepresentationSettings,
            firing_filter: float | None, auc: float) -> dict:
    train_x, train_y = x_dims[data.train], data.y[data.train]
    return {"representation": name, "n_dims": x_dims.shape[1],
            "jss": js_separability(train_x, train_y, firing_filter=firing_filter),
            "sno": salient_neuron_overlap(train_x, train_y, min(settings.salient_top, x_dims.shape[1])),
            "auc": auc}


def _selectivity(x_top: np.ndarray, active: np.ndarray) -> dict:
    return {"gini": float(np.mean(gini(x_top, axis=0))), "frac_active": float(np.mean(active))}


def residual_rows(data: DatasetRows, settings: RepresentationSettings) -> tuple[list[dict], np.ndarray]:
    """The ``raw`` and ``logreg`` rows of one dataset, and logreg's dimensions by |coef|."""
    auc_raw, weights = standardised_auc(data.x, data, settings.engine)
    ranked = np.argsort(-weights, kind="stable")
    top = ranked[:settings.logistic_top]
    auc_top, _ = standardised_auc(data.x[:, top], data, settings.engine)
    selected = ranked[:settings.selectivity_top]
    rows = [_scores(RAW, data.x, data, settings, None, auc_raw),
            {**_scores(LOGREG, data.x[:, top], data, settings, None, auc_top),
             **_selectivity(data.x[:, selected], frac_active_dense(data.x[:, selected]))}]
    return rows, ranked


def sae_rows(name: str, data: DatasetRows, settings: RepresentationSettings) -> tuple[list[dict], np.ndarray]:
    """The SAE's row of one dataset, and its latents by class-mean difference."""
    train_x = data.x[data.train]
    fires = (train_x != 0).mean(axis=0)
    kept = np.flatnonzero(fires >= settings.firing_filter if settings.sae_auc_latents == "firing" else fires > 0)
    if len(kept) == 0:
        raise ValueError(f"{name}: no latent fires on {settings.firing_filter:.0%} of the training rows; "
                         "lower representation.firing_filter")
    auc, _ = standardised_auc(data.x[:, kept], data, settings.engine)
    ranked = top_latents_by_mean_difference(train_x, data.y[data.train], k=data.x.shape[1])
    selected = ranked[:settings.selectivity_top]
    row = {**_scores(name, data.x, data, settings, settings.firing_filter, auc), "auc_dims": len(kept),
           **_selectivity(data.x[:, selected], frac_active_sae(data.x[:, selected]))}
    return [row], ranked


def positive_rows(datasets: dict[str, DatasetRows], per_dataset: int, seed: int) -> dict[str, np.ndarray]:
    """Up to ``per_dataset`` training positives of each dataset, drawn with
    seed ``seed`` + the dataset's index (sorted rows)."""
    drawn = {}
    for index, (name, data) in enumerate(datasets.items()):
        positives = data.train[data.y[data.train] == 1]
        rng = np.random.default_rng(seed + index)
        drawn[name] = np.sort(rng.choice(positives, size=min(per_dataset, len(positives)), replace=False))
    return drawn


def analyse(kind: str, datasets: dict[str, DatasetRows], settings: RepresentationSettings
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One job's results: per-dataset rows (with each row's top dimensions),
    cluster separation per representation, and its pairwise table.

    ``kind`` is ``"residual"`` or an SAE's name."""
    positives = positive_rows(datasets, settings.cluster_positives, settings.seed)
    rows, top_dims = [], {}
    for dataset, data in datasets.items():
        found, ranked = residual_rows(data, settings) if kind == "residual" else sae_rows(kind, data, settings)
        top_dims[dataset] = ranked[:settings.selectivity_top]
        for row in found:
            if "gini" in row:
                row["top_dims"] = top_dims[dataset].tolist()
            rows.append({"dataset": dataset, **row})
    per_dataset = pd.DataFrame(rows)

    # Concept Gini: each dataset's selected dimensions across every dataset's positive mean.
    pooled_x = np.concatenate([datasets[d].x[positives[d]] for d in datasets])
    pooled_concept = np.concatenate([np.full(len(positives[d]), d, dtype=object) for d in datasets])
    if "gini" in per_dataset:
        across = {d: float(np.mean(concept_gini(pooled_x[:, dims], pooled_concept))) for d, dims in top_dims.items()}
        selected = per_dataset["representation"] != RAW
        per_dataset.loc[selected, "concept_gini"] = per_dataset.loc[selected, "dataset"].map(across)

    if len(datasets) < MIN_CONCEPTS:  # cluster separation needs three concepts
        return per_dataset, pd.DataFrame(), pd.DataFrame()
    columns = ({RAW: np.arange(pooled_x.shape[1]),
                LOGREG: multiclass_top_dimensions(pooled_x, pooled_concept, settings.logistic_top)}
               if kind == "residual" else {kind: firing_latents(pooled_x, settings.firing_filter)})
    clusters, pairwise = [], []
    for name, dims in columns.items():
        clusters.append({"representation": name, "n_dims": len(dims), "n_concepts": len(datasets),
                         "n_rows": len(pooled_x), **cluster_separation(pooled_x[:, dims], pooled_concept)})
        pairwise.append(pairwise_separation(pooled_x[:, dims], pooled_concept).assign(representation=name))
    return per_dataset, pd.DataFrame(clusters), pd.concat(pairwise, ignore_index=True)


def dataset_labels(dataset_files) -> dict[str, np.ndarray]:
    """Each prepared dataset's labels, by dataset name (the file's stem), in the files' order."""
    from pathlib import Path

    return {Path(f).stem: pd.read_parquet(f, columns=["label"])["label"].to_numpy() for f in dataset_files}


def representation_matrices(kind: str, sources, layer: int, names=None) -> dict[str, np.ndarray]:
    """By dataset name, the matrices of a representation job: for ``kind``
    ``"residual"`` the last-token activations at ``layer`` (``sources``: the
    activation folders), else the SAE's latents (``sources``: its latent
    files), dense. ``names`` keeps only those datasets."""
    from pathlib import Path

    from saeprobe.encoding import load_latents
    from saeprobe.paths import RESIDUAL, activation_file_name

    if kind == RESIDUAL:
        found = {Path(f).name: lambda f=f: np.load(Path(f) / activation_file_name(layer)) for f in sources}
    else:
        found = {Path(f).stem: lambda f=f: load_latents(f).toarray() for f in sources}
    return {name: load() for name, load in found.items() if names is None or name in names}
