"""Cross-modal stitching (analysis-methods.md §6.7).

After kurexi/SAEs ``extensions/model_stitching.py``: does a ridge map from a
text representation into an image-feature space land each text concept near
images of "its" image class?

Inputs. K text concepts (the positive rows of K binary probing datasets) give
text rows ``text_train`` / ``text_test`` [n, d_text] with concept ids
``*_concepts``; an image pool ``image_train_feats`` [m, d_img] with labels in
exactly K classes. The text representation is anything row-aligned: the raw
residual, SAE latents, or a top-100 logistic selection of residual dims.

The map (``fit_stitch``). Both sides are z-scored with their training mean and
std (+1e-8, so constant columns such as dead latents map to 0); a
``Ridge(alpha, fit_intercept=True)`` is fitted from z(text) to z(image); a
prediction is un-z-scored, ``ŷ = (z(x) Wᵀ + b)·σ_img + μ_img``.

Scoring (``nearest_class_accuracy``). Mapped text test rows are classified by
a 1-NN (euclidean, brute force) fitted on the whole image pool and its labels;
accuracy is the share whose neighbour has the paired class. Chance is 1/K.

Pairing (``stitching_scores``). The reference pairs concept i with CIFAR class
i by index. That pairing is arbitrary (nothing links "the headline is about
sport" to digit 3), and any other bijection is equally so. Here the map is
scored under ``n_pairings`` random bijections π: concepts -> classes, drawn from
``np.random.default_rng([seed, 0])``, and the mean and std over bijections are
reported; the identity is not special. Under π, concepts are taken in sorted
order and so are classes, and the j-th text training row of concept c (in row
order) is paired with the j-th pool row of class π(c) (in row order; the pool
must hold at least as many rows of a class as its concept has training rows).
A test row of concept c counts as correct iff its 1-NN class is π(c).

Shuffled-pairing control. For each bijection the same image targets are
permuted across all text training rows (``default_rng([seed, 1])``), so each
text row gets an image of a random class and no concept has a consistent class;
the map is refitted and scored against π as above. It should land near chance.
Std values (per class and over bijections) are population std (ddof=0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsClassifier

STD_EPS = 1e-8  # the reference's guard: constant columns z-score to 0 instead of nan


def _as_matrix(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D [n_rows, n_dims], got shape {x.shape}")
    return x


class ZScore(NamedTuple):
    """Per-column mean and (std + 1e-8) of a training matrix; unpacks as ``(mean, std)``."""

    mean: np.ndarray
    std: np.ndarray

    def apply(self, x_nd) -> np.ndarray:
        return (np.asarray(x_nd, dtype=np.float64) - self.mean) / self.std

    def invert(self, z_nd) -> np.ndarray:
        return np.asarray(z_nd, dtype=np.float64) * self.std + self.mean


def zscore_fit(x_nd) -> ZScore:
    x_nd = _as_matrix(x_nd, "x")
    return ZScore(x_nd.mean(axis=0), x_nd.std(axis=0) + STD_EPS)


@dataclass
class StitchMap:
    """A fitted text -> image map; ``predict`` returns image-space features."""

    text: ZScore
    image: ZScore
    ridge: Ridge

    def predict(self, text_nd) -> np.ndarray:
        return self.image.invert(self.ridge.predict(self.text.apply(_as_matrix(text_nd, "text"))))


def fit_stitch(text_train, image_train, alpha: float = 1.0) -> StitchMap:
    """Ridge from z(text) to z(image), row i of one paired with row i of the other."""
    text_nd, image_nm = _as_matrix(text_train, "text_train"), _as_matrix(image_train, "image_train")
    if len(text_nd) != len(image_nm):
        raise ValueError(f"{len(text_nd)} text rows but {len(image_nm)} image rows to pair them with")
    text_z, image_z = zscore_fit(text_nd), zscore_fit(image_nm)
    ridge = Ridge(alpha=alpha, fit_intercept=True).fit(text_z.apply(text_nd), image_z.apply(image_nm))
    return StitchMap(text_z, image_z, ridge)


def nearest_class_accuracy(predicted, image_train_features, image_train_labels, true_labels) -> dict:
    """1-NN (euclidean, brute force) class of each predicted row, scored against ``true_labels``.

    ``per_class_mean`` / ``per_class_std``: over the classes present in
    ``true_labels``, of the accuracy on that class's rows.
    """
    knn = KNeighborsClassifier(n_neighbors=1, algorithm="brute")
    knn.fit(_as_matrix(image_train_features, "image_train_features"), np.asarray(image_train_labels))
    true_labels = np.asarray(true_labels)
    correct = knn.predict(_as_matrix(predicted, "predicted")) == true_labels
    per_class = np.array([correct[true_labels == c].mean() for c in np.unique(true_labels)])
    return {"accuracy": float(correct.mean()), "per_class_mean": float(per_class.mean()),
            "per_class_std": float(per_class.std())}


def _paired_targets(concept_rows: list[np.ndarray], class_rows: list[np.ndarray], pairing: np.ndarray,
                    classes: np.ndarray, n_rows: int) -> np.ndarray:
    """Pool row paired with each text training row: row j of concept k -> row j of class pairing[k]."""
    target_rows = np.empty(n_rows, dtype=np.int64)
    for k, rows in enumerate(concept_rows):
        pool = class_rows[pairing[k]]
        if len(pool) < len(rows):
            raise ValueError(f"image class {classes[pairing[k]]} has {len(pool)} pool rows; "
                             f"its paired concept has {len(rows)} training rows")
        target_rows[rows] = pool[:len(rows)]
    return target_rows


def stitching_scores(text_train, text_train_concepts, text_test, text_test_concepts, image_train_feats,
                     image_train_labels, n_pairings: int = 5, seed: int = 0, alpha: float = 1.0) -> dict:
    """Stitching accuracy over ``n_pairings`` random concept->class bijections, and its shuffled control.

    See the module docstring for the pairing. Returns ``accuracy_mean`` /
    ``accuracy_std`` (over bijections), ``per_class_mean`` / ``per_class_std``
    (each bijection's per-class mean and std, averaged over bijections),
    ``chance`` (1/K), ``shuffled_accuracy_mean`` / ``shuffled_accuracy_std``,
    and per bijection: ``pairing_accuracies``, ``shuffled_accuracies`` and the
    ``pairings`` themselves (class paired with each sorted concept).
    """
    if n_pairings < 1:
        raise ValueError(f"n_pairings must be at least 1, got {n_pairings}")
    text_train, text_test = _as_matrix(text_train, "text_train"), _as_matrix(text_test, "text_test")
    image_feats = _as_matrix(image_train_feats, "image_train_feats")
    train_concepts, test_concepts = np.asarray(text_train_concepts), np.asarray(text_test_concepts)
    image_labels = np.asarray(image_train_labels)
    if len(train_concepts) != len(text_train) or len(test_concepts) != len(text_test):
        raise ValueError("each text row needs one concept id")
    if len(image_labels) != len(image_feats):
        raise ValueError(f"{len(image_feats)} image rows but {len(image_labels)} labels")
    concepts, classes = np.unique(train_concepts), np.unique(image_labels)
    n_concepts = len(concepts)
    if n_concepts < 2 or len(classes) != n_concepts:
        raise ValueError(f"need K >= 2 concepts and exactly K image classes; got {n_concepts} concepts "
                         f"and {len(classes)} classes")
    unknown = np.setdiff1d(test_concepts, concepts)
    if len(unknown):
        raise ValueError(f"test concepts {unknown.tolist()} have no training rows")
    concept_rows = [np.flatnonzero(train_concepts == c) for c in concepts]
    class_rows = [np.flatnonzero(image_labels == c) for c in classes]
    test_k = np.searchsorted(concepts, test_concepts)
    # Separate streams: the bijections depend only on (seed, K), not on the row counts.
    pairing_rng, shuffle_rng = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])

    runs, controls, pairings = [], [], []
    for _ in range(n_pairings):
        pairing = pairing_rng.permutation(n_concepts)
        targets = image_feats[_paired_targets(concept_rows, class_rows, pairing, classes, len(text_train))]
        true_classes = classes[pairing[test_k]]
        mapped = fit_stitch(text_train, targets, alpha).predict(text_test)
        runs.append(nearest_class_accuracy(mapped, image_feats, image_labels, true_classes))
        shuffled = targets[shuffle_rng.permutation(len(targets))]
        mapped = fit_stitch(text_train, shuffled, alpha).predict(text_test)
        controls.append(nearest_class_accuracy(mapped, image_feats, image_labels, true_classes)["accuracy"])
        pairings.append(classes[pairing].tolist())

    accuracies = np.array([run["accuracy"] for run in runs])
    return {
        "accuracy_mean": float(accuracies.mean()),
        "accuracy_std": float(accuracies.std()),
        "per_class_mean": float(np.mean([run["per_class_mean"] for run in runs])),
        "per_class_std": float(np.mean([run["per_class_std"] for run in runs])),
        "chance": 1.0 / n_concepts,
        "shuffled_accuracy_mean": float(np.mean(controls)),
        "shuffled_accuracy_std": float(np.std(controls)),
        "n_concepts": n_concepts,
        "n_pairings": n_pairings,
        "pairing_accuracies": accuracies.tolist(),
        "shuffled_accuracies": [float(a) for a in controls],
        "pairings": pairings,
    }
