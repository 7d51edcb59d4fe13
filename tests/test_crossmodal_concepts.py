"""Which datasets become stitching concepts, and the scores of one job's representations."""

from __future__ import annotations

import numpy as np
import pytest

from saeprobe.crossmodal.concepts import concept_rows, stitching_rows
from saeprobe.splits import normal_split


def labels_with_positives(n_rows: int) -> np.ndarray:
    return np.tile([0, 1], n_rows // 2)


def test_concepts_are_the_first_datasets_by_name_with_enough_training_positives():
    labels = {"c": labels_with_positives(300), "a": labels_with_positives(300), "b": labels_with_positives(120),
              "d": labels_with_positives(300)}
    concepts = concept_rows(labels, per_concept=40, max_concepts=2, seed=0)
    assert list(concepts) == ["a", "c"]  # b has 10 training positives (20 training rows), d is the third
    for name, (train, test) in concepts.items():
        y, (fit_rows, _) = labels[name], normal_split(labels[name])
        assert len(train) == len(test) == 20 and not set(train) & set(test)
        assert set(train) | set(test) <= set(fit_rows) and (y[train] == 1).all() and (y[test] == 1).all()
    assert concept_rows(labels, 40, 2, seed=0)["a"][0].tolist() == concepts["a"][0].tolist()  # seeded
    with pytest.raises(ValueError, match="lower crossmodal.per_concept"):
        concept_rows(labels, per_concept=500, max_concepts=2, seed=0)


def test_stitching_rows_map_concept_clusters_onto_image_classes():
    rng = np.random.default_rng(0)
    labels = {f"d{i}": labels_with_positives(400) for i in range(4)}
    concepts = concept_rows(labels, per_concept=40, max_concepts=4, seed=0)
    # Text: each dataset's rows sit around its own centre; images: five classes around theirs.
    matrices = {name: rng.normal(size=(400, 16)) + 4 * np.eye(16)[i] for i, name in enumerate(labels)}
    image_labels = np.repeat(np.arange(5), 30)
    images = rng.normal(size=(150, 8)) + 4 * np.eye(8)[image_labels]
    rows = stitching_rows("residual", matrices, concepts, images, image_labels, per_class=20, logistic_top=6,
                          firing_filter=0.1, n_pairings=3, alpha=1.0, seed=0)
    by_name = {row["representation"]: row for row in rows}
    assert set(by_name) == {"raw", "logreg"} and by_name["logreg"]["n_dims"] == 6
    for row in rows:
        assert row["n_concepts"] == 4 and row["chance"] == 0.25
        assert row["accuracy_mean"] > 0.9 and row["shuffled_accuracy_mean"] < 0.6
    with pytest.raises(ValueError, match="max_concepts to at most 2"):
        stitching_rows("residual", matrices, concepts, images[:60], image_labels[:60] % 2, 20, 6, 0.1, 1, 1.0, 0)
