"""Text concepts for cross-modal stitching (analysis-methods.md §6.7): the
positive rows of probing datasets, as the seed takes them."""

from __future__ import annotations

import numpy as np

from saeprobe.splits import normal_split


def concept_rows(labels: dict[str, np.ndarray], per_concept: int, max_concepts: int, seed: int
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{dataset: (train rows, test rows)}`` of the concepts: the first
    ``max_concepts`` datasets by name with ``per_concept`` positives in their
    normal split's training rows (the seed: the first 100 alphabetically with
    64), each drawing ``per_concept`` of them (seed ``seed`` + the concept's
    index) and halving them into the map's training and test rows."""
    if per_concept < 2:
        raise ValueError(f"per_concept must be at least 2 (half for the map, half to score it), got {per_concept}")
    concepts = {}
    for name in sorted(labels):
        if len(concepts) == max_concepts:
            break
        y = labels[name]
        positives = normal_split(y)[0]
        positives = positives[y[positives] == 1]
        if len(positives) < per_concept:
            continue
        drawn = np.random.default_rng(seed + len(concepts)).choice(positives, size=per_concept, replace=False)
        half = per_concept // 2
        concepts[name] = (np.sort(drawn[:half]), np.sort(drawn[half:]))
    if len(concepts) < 2:
        raise ValueError(f"cross-modal stitching needs at least 2 datasets with {per_concept} training positives; "
                         f"{len(concepts)} have them: lower crossmodal.per_concept")
    return concepts


def stitching_rows(kind: str, matrices: dict[str, np.ndarray], concepts: dict[str, tuple[np.ndarray, np.ndarray]],
                   image_features_nd: np.ndarray, image_labels: np.ndarray, per_class: int, logistic_top: int,
                   firing_filter: float, n_pairings: int, alpha: float, seed: int) -> list[dict]:
    """The stitching scores of one job's representations: for ``kind``
    ``"residual"`` the raw residual and its ``logistic_top`` dimensions by
    one-vs-rest |coef| over the concepts (the seed's logreg), else the SAE's
    latents that fire on ``firing_filter`` of the concepts' training rows.

    Image classes are the first K of ``image_labels`` (K concepts), with
    ``per_class`` images each drawn by ``images.sample_per_class``."""
    from saeprobe.crossmodal.images import sample_per_class
    from saeprobe.crossmodal.stitching import stitching_scores
    from saeprobe.representation.clusters import firing_latents, multiclass_top_dimensions

    names = list(concepts)
    classes = np.unique(image_labels)
    if len(classes) < len(names):
        raise ValueError(f"{len(names)} concepts but the images have only {len(classes)} classes: "
                         f"set crossmodal.max_concepts to at most {len(classes)}")
    pool = sample_per_class(image_labels, classes[:len(names)], per_class, seed)
    train_x = np.concatenate([matrices[n][concepts[n][0]] for n in names])
    test_x = np.concatenate([matrices[n][concepts[n][1]] for n in names])
    train_c = np.repeat(np.arange(len(names)), [len(concepts[n][0]) for n in names])
    test_c = np.repeat(np.arange(len(names)), [len(concepts[n][1]) for n in names])
    columns = ({"raw": np.arange(train_x.shape[1]),
                "logreg": multiclass_top_dimensions(train_x, train_c, logistic_top)}
               if kind == "residual" else {kind: firing_latents(train_x, firing_filter)})
    rows = []
    for name, dims in columns.items():
        scores = stitching_scores(train_x[:, dims], train_c, test_x[:, dims], test_c, image_features_nd[pool],
                                  image_labels[pool], n_pairings=n_pairings, seed=seed, alpha=alpha)
        rows.append({"representation": name, "n_dims": len(dims), "concepts": ", ".join(names),
                     **{key: value for key, value in scores.items() if not isinstance(value, list)},
                     "pairing_accuracies": scores["pairing_accuracies"]})
    return rows
