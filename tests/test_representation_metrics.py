"""Representation metrics (analysis-methods.md §6.2-6.4) on hand-made inputs with known answers."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from saeprobe.datasets import reference_catalog
from saeprobe.representation import (
    cluster_separation,
    concept_gini,
    feature_reuse,
    firing_latents,
    frac_active_dense,
    frac_active_sae,
    gini,
    jaccard,
    js_separability,
    js_separability_per_dim,
    load_dataset_groups,
    multiclass_top_dimensions,
    pairwise_separation,
    salient_neuron_overlap,
    top_latents_by_mean_difference,
    top_logistic_dimensions,
)

# With 2048 bins, the 1e-10 added to every empty bin moves a score by ~1e-5.
EPS_TOL = 1e-4


def entropy_bits(*p):
    p = np.asarray(p, dtype=float)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


# ---------------------------------------------------------------------------
# JS separability (§6.2)
# ---------------------------------------------------------------------------


def test_identical_class_distributions_score_zero():
    values = np.array([0.0, 1.0, 2.0, 3.0, 3.0])
    X = np.concatenate([values, values])[:, None]
    y = np.array([0] * 5 + [1] * 5)
    assert js_separability(X, y) == pytest.approx(0.0, abs=1e-12)


def test_disjoint_supports_score_one():
    X = np.array([[0.0], [0.1], [0.2], [0.9], [1.0]])
    y = np.array([0, 0, 0, 1, 1])
    assert js_separability(X, y) == pytest.approx(1.0, abs=EPS_TOL)


def test_imbalanced_classes_are_normalised_before_mixing():
    # Class 0: ten rows at 0; class 1: one row at 1. Disjoint, so the JS
    # distance is 1. Mixing raw counts would give the mixture (10, 1)/11 and
    # sqrt(H(10/11, 1/11)) = 0.663 instead.
    X = np.array([0.0] * 10 + [1.0])[:, None]
    y = np.array([0] * 10 + [1])
    assert js_separability(X, y) == pytest.approx(1.0, abs=EPS_TOL)
    assert np.sqrt(entropy_bits(10 / 11, 1 / 11)) == pytest.approx(0.663, abs=1e-3)


def test_imbalanced_overlapping_classes():
    # Class 0: (1/2, 1/2) over the bins of 0 and 1 (20 rows); class 1: all at 1 (2 rows).
    # Normalised mixture (1/4, 3/4): JSD = H(1/4, 3/4) - (1 + 0)/2.
    # The raw-count mixture (10, 12)/22 would give H(10/22, 12/22) - 1/2 instead.
    X = np.array([0.0] * 10 + [1.0] * 10 + [1.0] * 2)[:, None]
    y = np.array([0] * 20 + [1] * 2)
    expected = np.sqrt(entropy_bits(0.25, 0.75) - 0.5)
    raw_mixture = np.sqrt(entropy_bits(10 / 22, 12 / 22) - 0.5)
    assert expected == pytest.approx(0.558, abs=1e-3)
    assert abs(expected - raw_mixture) > 0.1
    assert js_separability(X, y) == pytest.approx(expected, abs=EPS_TOL)


def test_constant_dimension_scores_zero():
    X = np.array([[5.0, 0.0], [5.0, 0.1], [5.0, 0.9], [5.0, 1.0]])
    y = np.array([0, 0, 1, 1])
    scores = js_separability_per_dim(X, y)
    assert scores[0] == 0.0
    assert scores[1] == pytest.approx(1.0, abs=EPS_TOL)
    assert js_separability(X, y) == pytest.approx(0.5, abs=EPS_TOL)


def test_firing_filter_drops_rarely_active_dimension():
    y = np.repeat([0, 1], 20)
    separable = np.where(y == 1, 2.0, 1.0)  # always nonzero, disjoint by class: score 1
    rare = np.zeros(40)
    rare[[0, 25]] = [1.0, 3.0]  # nonzero in 5% of rows, mostly 0 in both classes
    X = np.column_stack([separable, rare])
    unfiltered = js_separability_per_dim(X, y)
    filtered = js_separability_per_dim(X, y, firing_filter=0.1)
    assert np.isnan(filtered[1]) and not np.isnan(unfiltered[1])
    assert filtered[0] == pytest.approx(1.0, abs=EPS_TOL)
    assert js_separability(X, y, firing_filter=0.1) == pytest.approx(1.0, abs=EPS_TOL)
    assert js_separability(X, y) == pytest.approx(unfiltered.mean())
    assert unfiltered[1] < 0.5


def test_no_dimension_surviving_the_filter_is_an_error():
    X = np.zeros((10, 3))
    X[0] = 1.0
    with pytest.raises(ValueError, match="no dimension fires"):
        js_separability(X, np.repeat([0, 1], 5), firing_filter=0.5)


def test_vectorised_histograms_match_a_per_column_loop():
    # Over 256 columns, so the chunking is exercised; rounded columns put values on bin edges.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 300))
    X[:, ::7] = np.round(X[:, ::7] * 4) / 4
    X[:, 5] = 3.0
    y = rng.integers(0, 2, size=120)
    n_bins = 64

    def one_column(col):
        if col.min() == col.max():
            return 0.0
        edges = np.linspace(col.min(), col.max(), n_bins + 1)
        p = []
        for c in (0, 1):
            h = np.histogram(col[y == c], bins=edges)[0] + 1e-10
            p.append(h / h.sum())
        m = (p[0] + p[1]) / 2
        jsd = entropy_bits(*m) - (entropy_bits(*p[0]) + entropy_bits(*p[1])) / 2
        return np.sqrt(max(jsd, 0.0))

    expected = np.array([one_column(X[:, j]) for j in range(X.shape[1])])
    np.testing.assert_allclose(js_separability_per_dim(X, y, n_bins=n_bins), expected, atol=1e-12)


def test_labels_need_exactly_two_classes():
    with pytest.raises(ValueError, match="binary labels"):
        js_separability(np.ones((3, 1)), [0, 1, 2])
    # Any two label values work; the smaller is class 0.
    X = np.array([[0.0], [0.1], [0.9], [1.0]])
    assert js_separability(X, ["neg", "neg", "pos", "pos"]) == pytest.approx(1.0, abs=EPS_TOL)


# ---------------------------------------------------------------------------
# Salient-neuron overlap and logistic top dimensions (§6.2)
# ---------------------------------------------------------------------------


def test_salient_neuron_overlap_by_hand():
    # Class 0's top 3 by mean: {0, 1, 2}; class 1's: {1, 2, 3}. Jaccard = 2/4.
    X = np.array(
        [
            [9.0, 8.0, 7.0, 0.0, 1.0, 0.0],
            [9.0, 8.0, 7.0, 0.0, 1.0, 0.0],
            [0.0, 8.0, 7.0, 9.0, 1.0, 0.0],
            [0.0, 8.0, 7.0, 9.0, 1.0, 0.0],
        ]
    )
    y = np.array([0, 0, 1, 1])
    assert salient_neuron_overlap(X, y, top=3) == pytest.approx(0.5)
    assert salient_neuron_overlap(X, y, top=1) == pytest.approx(0.0)  # {0} vs {3}
    assert salient_neuron_overlap(X, y, top=80) == 1.0  # capped at 6: both sets are every dim


def test_top_logistic_dimensions_finds_the_informative_columns():
    rng = np.random.default_rng(1)
    n, d = 300, 20
    X = rng.normal(size=(n, d))
    y = (X[:, 3] - 2 * X[:, 11] + 0.3 * rng.normal(size=n) > 0).astype(int)
    X[:, 7] *= 1000.0  # a large-scale noise column: standardising keeps it out
    top = top_logistic_dimensions(X, y, n=2)
    assert top.tolist() == [11, 3]  # ordered by |coef|: column 11 has twice the weight
    assert len(top_logistic_dimensions(X, y, n=500)) == d


# ---------------------------------------------------------------------------
# Cluster separation (§6.3)
# ---------------------------------------------------------------------------


def test_cluster_scores_equal_sklearn_on_blobs():
    X, labels = make_blobs(n_samples=90, centers=3, n_features=5, random_state=0)
    scores = cluster_separation(X, labels)
    assert set(scores) == {"calinski_harabasz", "neg_davies_bouldin", "silhouette", "mpcd_ratio"}
    assert scores["calinski_harabasz"] == pytest.approx(calinski_harabasz_score(X, labels))
    assert scores["neg_davies_bouldin"] == pytest.approx(-davies_bouldin_score(X, labels))
    assert scores["silhouette"] == pytest.approx(silhouette_score(X, labels))


def three_tiny_clusters():
    # a: centroid (1, 0), std per dim (1, 0) -> spread 0.5
    # b: centroid (10, 1), std (0, 1)        -> spread 0.5
    # c: centroid (1, 10), std (1, 1)        -> spread 1
    X = np.array(
        [[0, 0], [2, 0], [10, 0], [10, 2], [0, 9], [2, 9], [0, 11], [2, 11]],
        dtype=float,
    )
    labels = np.array(["a", "a", "b", "b", "c", "c", "c", "c"])
    return X, labels


def test_mpcd_ratio_by_hand():
    X, labels = three_tiny_clusters()
    distances = [np.sqrt(82), 10.0, np.sqrt(162)]  # a-b, a-c, b-c
    expected = np.mean(distances) / np.mean([0.5, 0.5, 1.0])
    assert cluster_separation(X, labels)["mpcd_ratio"] == pytest.approx(expected)


def test_pairwise_separation_by_hand():
    X, labels = three_tiny_clusters()
    table = pairwise_separation(X, labels)
    assert list(table.columns) == ["concept_a", "concept_b", "centroid_distance", "separation_ratio"]
    assert list(zip(table.concept_a, table.concept_b, strict=True)) == [("a", "b"), ("a", "c"), ("b", "c")]
    np.testing.assert_allclose(table.centroid_distance, [np.sqrt(82), 10.0, np.sqrt(162)])
    np.testing.assert_allclose(
        table.separation_ratio,
        [np.sqrt(82) / (0.5 + 1e-8), 10.0 / (0.75 + 1e-8), np.sqrt(162) / (0.75 + 1e-8)],
    )


def test_cluster_separation_needs_three_concepts_of_two_rows():
    X, labels = three_tiny_clusters()
    two = labels != "c"
    with pytest.raises(ValueError, match="at least 3 concepts"):
        cluster_separation(X[two], labels[two])
    with pytest.raises(ValueError, match="at least 3 concepts"):
        pairwise_separation(X[two], labels[two])
    with pytest.raises(ValueError, match="at least 2 rows"):
        cluster_separation(X[1:], labels[1:])


def test_firing_latents_and_fallback():
    n = 100
    X = np.zeros((n, 4))
    X[:50, 0] = 1.0  # fires 0.5
    X[:5, 1] = 1.0  # 0.05
    X[:20, 3] = 2.0  # 0.2
    assert firing_latents(X).tolist() == [0, 3]
    # Under two latents above tau: fall back to the 0.01 threshold.
    assert firing_latents(X[:, 1:3]).tolist() == [0]
    assert firing_latents(X[:, :2]).tolist() == [0, 1]


def test_multiclass_top_dimensions_finds_concept_dimensions():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1, 2], 40)
    X = rng.normal(size=(120, 12))
    X[:, 2] += 3.0 * (labels == 1)
    X[:, 5] += 3.0 * (labels == 2) - 3.0 * (labels == 0)
    assert set(multiclass_top_dimensions(X, labels, n=2).tolist()) == {2, 5}


# ---------------------------------------------------------------------------
# Gini, activity, top latents, Jaccard and feature reuse (§6.4)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 16])
def test_gini_of_one_hot_is_n_minus_one_over_n(n):
    x = np.zeros(n)
    x[n // 2] = 3.0
    assert gini(x) == pytest.approx((n - 1) / n)


def test_gini_hand_values():
    assert gini(np.full(7, 2.5)) == pytest.approx(0.0, abs=1e-12)
    assert gini(np.zeros(4)) == 0.0
    assert gini([-1.0, 0.0, 0.0, 0.0]) == pytest.approx(0.75)  # on |x|
    # x = (1, 2, 3): 2 * (1 + 4 + 9) / (3 * 6) - 4/3 = 2/9
    assert gini([3.0, 1.0, 2.0]) == pytest.approx(2 / 9)
    assert isinstance(gini([1.0, 2.0]), float)


def test_gini_along_an_axis_matches_per_slice():
    rng = np.random.default_rng(3)
    X = np.abs(rng.normal(size=(30, 6)))
    X[:, 4] = 0.0
    np.testing.assert_allclose(gini(X, axis=0), [gini(X[:, j]) for j in range(6)])
    np.testing.assert_allclose(gini(X, axis=1), [gini(X[i]) for i in range(30)])


def test_concept_gini():
    labels = np.repeat(["a", "b", "c", "d"], 3)
    X = np.zeros((12, 2))
    X[labels == "c", 0] = 2.0  # only concept c: mean vector one-hot over 4 concepts
    X[:, 1] = 1.0  # same mean in every concept
    np.testing.assert_allclose(concept_gini(X, labels), [0.75, 0.0], atol=1e-12)


def test_frac_active():
    X = np.array([[0.0, -1.0], [1.0, 1.0], [2.0, 2.0], [0.0, 6.0]])
    np.testing.assert_allclose(frac_active_sae(X), [0.5, 0.75])
    # Means 0.75 and 2.0: rows above them are {1, 2} and {3}.
    np.testing.assert_allclose(frac_active_dense(X), [0.5, 0.25])


def test_top_latents_by_mean_difference_order_and_ties():
    y = np.array([0, 0, 1, 1])
    # mean_pos - mean_neg per column: 0.5, 2.0, -0.5, -3.0
    X = np.array([[0, 0, 1, 3], [0, 0, 1, 3], [0.5, 2, 0.5, 0], [0.5, 2, 0.5, 0]])
    assert top_latents_by_mean_difference(X, y, k=4).tolist() == [3, 1, 0, 2]
    assert top_latents_by_mean_difference(X, y, k=3).tolist() == [3, 1, 0]


def test_jaccard():
    assert jaccard({1, 2, 3}, [3, 2, 1]) == 1.0
    assert jaccard({1, 2}, {3}) == 0.0
    assert jaccard(set(), []) == 1.0
    assert jaccard(np.array([1, 2, 3]), [2, 3, 4]) == pytest.approx(0.5)


def test_feature_reuse_pairs_within_groups():
    top_sets = {"a": {1, 2}, "b": np.array([2, 3]), "c": {7}, "d": {1}}
    groups = {"g1": ["a", "b", "missing", "c"], "g2": ["d", "absent"]}
    table = feature_reuse(top_sets, groups)
    expected = pd.DataFrame(
        {
            "group": ["g1", "g1", "g1"],
            "dataset_a": ["a", "a", "b"],
            "dataset_b": ["b", "c", "c"],
            "jaccard": [1 / 3, 0.0, 0.0],
        }
    )
    pd.testing.assert_frame_equal(table, expected)
    assert list(feature_reuse({}, groups).columns) == ["group", "dataset_a", "dataset_b", "jaccard"]


# ---------------------------------------------------------------------------
# Dataset groups
# ---------------------------------------------------------------------------


def test_dataset_groups_file_names_reference_datasets_once():
    text = resources.files("saeprobe.representation").joinpath("dataset_groups.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    datasets = [row["dataset"] for row in rows]
    assert len(datasets) == len(set(datasets)), "a dataset is in two groups"
    unknown = set(datasets) - set(reference_catalog()["name"])
    assert not unknown, f"not reference datasets: {sorted(unknown)}"

    groups = load_dataset_groups()
    assert sum(len(members) for members in groups.values()) == len(datasets)
    assert all(len(members) >= 2 for members in groups.values())
    seed_groups = {"us_states", "agnews", "glue_nli", "phrases_in_context", "historical_figures"}
    assert seed_groups <= set(groups)
    assert groups["athlete_sports"] == [
        "154_athlete_sport_football", "155_athlete_sport_basketball", "156_athlete_sport_baseball",
    ]


def test_load_dataset_groups_rejects_a_dataset_in_two_groups(tmp_path):
    path = tmp_path / "groups.csv"
    path.write_text("group,dataset\ng1,a\ng1,b\ng2,a\n")
    with pytest.raises(ValueError, match="'a' is in both 'g1' and 'g2'"):
        load_dataset_groups(path)
    path.write_text("name,dataset\ng1,a\n")
    with pytest.raises(ValueError, match="group,dataset"):
        load_dataset_groups(path)
