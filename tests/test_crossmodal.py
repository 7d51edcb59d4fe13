"""Cross-modal stitching (analysis-methods.md §6.7): the map, its scoring, and the image side."""

import sys

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from saeprobe.crossmodal import (
    classifier_accuracy,
    digits_images,
    digits_split,
    fit_stitch,
    image_features,
    load_encoder,
    nearest_class_accuracy,
    resnet50_cifar100_features,
    sample_per_class,
    save_encoder,
    stitching_scores,
    train_digit_encoder,
    zscore_fit,
)

K = 10


def class_structured(rng, centres_kd, per_class, noise=1.0):
    """Rows centre[c] + noise, ``per_class`` of each class in turn, and their class ids."""
    ids = np.repeat(np.arange(len(centres_kd)), per_class)
    return centres_kd[ids] + noise * rng.normal(size=(len(ids), centres_kd.shape[1])), ids


@pytest.fixture(scope="module")
def synthetic():
    """K text concepts and K image classes, each a well-separated Gaussian blob."""
    rng = np.random.default_rng(0)
    text_centres, image_centres = 3 * rng.normal(size=(K, 32)), 3 * rng.normal(size=(K, 64))
    text_train, train_ids = class_structured(rng, text_centres, 32)
    text_test, test_ids = class_structured(rng, text_centres, 40)
    image_feats, image_labels = class_structured(rng, image_centres, 32)
    return text_train, train_ids, text_test, test_ids, image_feats, image_labels


# --- the map -------------------------------------------------------------------------------

def test_zscore_uses_population_std_plus_eps_and_zeroes_constant_columns():
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    mean, std = zscore_fit(x)
    np.testing.assert_allclose(mean, [2.0, 5.0])
    np.testing.assert_allclose(std, [1.0 + 1e-8, 1e-8])
    z = zscore_fit(x).apply(x)
    np.testing.assert_allclose(z, [[-1 / (1 + 1e-8), 0.0], [1 / (1 + 1e-8), 0.0]])
    np.testing.assert_allclose(zscore_fit(x).invert(z), x)


def test_fit_stitch_matches_ridge_on_manually_standardised_data():
    rng = np.random.default_rng(1)
    text, image = rng.normal(size=(50, 7)), 40 + 9 * rng.normal(size=(50, 4))
    text_z = (text - text.mean(0)) / (text.std(0) + 1e-8)
    image_mu, image_sd = image.mean(0), image.std(0) + 1e-8
    ridge = Ridge(alpha=3.0, fit_intercept=True).fit(text_z, (image - image_mu) / image_sd)
    expected = ridge.predict(text_z) * image_sd + image_mu
    np.testing.assert_allclose(fit_stitch(text, image, alpha=3.0).predict(text), expected, rtol=1e-10)


def test_a_linear_relation_is_recovered_in_image_units():
    rng = np.random.default_rng(2)
    text = rng.normal(size=(200, 6))
    image = 100 + 50 * (text @ rng.normal(size=(6, 5)))  # far from z-scored units
    stitch = fit_stitch(text, image, alpha=1e-6)
    new_text = rng.normal(size=(20, 6))
    np.testing.assert_allclose(stitch.predict(new_text), 100 + 50 * (new_text @ np.linalg.lstsq(
        text, (image - 100) / 50, rcond=None)[0]), rtol=1e-5, atol=1e-4)
    assert abs(stitch.predict(text).mean() - image.mean()) < 1e-6


def test_fit_stitch_rejects_unpaired_rows():
    with pytest.raises(ValueError, match="3 text rows but 4 image rows"):
        fit_stitch(np.zeros((3, 2)), np.zeros((4, 2)))


# --- scoring -------------------------------------------------------------------------------

def test_nearest_class_accuracy_by_hand():
    train = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    predicted = np.array([[1.0, 1.0], [9.0, 1.0], [4.0, 6.0]])  # nearest: 0, 1, 2 (dist² 32 vs 52 vs 16)
    out = nearest_class_accuracy(predicted, train, [0, 1, 2], true_labels=[0, 1, 1])
    assert out["accuracy"] == pytest.approx(2 / 3)
    # per class: class 0 -> 1/1, class 1 -> 1/2
    assert out["per_class_mean"] == pytest.approx(0.75)
    assert out["per_class_std"] == pytest.approx(0.25)


def test_per_class_statistics_by_hand():
    train = np.array([[0.0], [10.0], [20.0]])
    predicted = np.array([[0.0], [10.0], [10.0], [10.0], [0.0], [20.0]])  # nearest: 0, 1, 1, 1, 0, 2
    out = nearest_class_accuracy(predicted, train, [0, 1, 2], true_labels=[0, 0, 1, 1, 1, 2])
    per_class = np.array([1 / 2, 2 / 3, 1.0])
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["per_class_mean"] == pytest.approx(per_class.mean())
    assert out["per_class_std"] == pytest.approx(per_class.std())


def test_class_structured_text_stitches_under_every_pairing(synthetic):
    out = stitching_scores(*synthetic, n_pairings=5, seed=0)
    assert out["chance"] == pytest.approx(1 / K) and out["n_concepts"] == K and out["n_pairings"] == 5
    assert min(out["pairing_accuracies"]) > 0.95
    assert out["accuracy_mean"] > 0.95 and out["per_class_mean"] > 0.95
    assert out["accuracy_std"] == pytest.approx(np.std(out["pairing_accuracies"]))
    for pairing in out["pairings"]:
        assert sorted(pairing) == list(range(K))  # a bijection onto the image classes
    assert len({tuple(p) for p in out["pairings"]}) == 5


def test_shuffled_control_lands_near_chance(synthetic):
    out = stitching_scores(*synthetic, n_pairings=5, seed=0)
    # chance 0.1; the control's SE over 5 x 10 concept-level draws is ~0.04
    assert out["shuffled_accuracy_mean"] < 2.5 / K
    assert len(out["shuffled_accuracies"]) == 5


def test_text_without_concept_structure_scores_near_chance(synthetic):
    text_train, train_ids, text_test, test_ids, image_feats, image_labels = synthetic
    rng = np.random.default_rng(3)
    out = stitching_scores(rng.normal(size=text_train.shape), train_ids, rng.normal(size=text_test.shape), test_ids,
                           image_feats, image_labels, n_pairings=5, seed=0)
    assert out["accuracy_mean"] < 2.5 / K


def test_pairings_depend_on_the_seed_only(synthetic):
    first = stitching_scores(*synthetic, n_pairings=3, seed=7)
    again = stitching_scores(*synthetic, n_pairings=3, seed=7)
    other = stitching_scores(*synthetic, n_pairings=3, seed=8)
    assert first == again
    assert first["pairings"] != other["pairings"]
    text_train, train_ids, text_test, test_ids, image_feats, image_labels = synthetic
    keep = np.concatenate([np.flatnonzero(train_ids == c)[:20] for c in range(K)])  # fewer rows, same K
    fewer = stitching_scores(text_train[keep], train_ids[keep], text_test, test_ids, image_feats, image_labels,
                             n_pairings=3, seed=7)
    assert fewer["pairings"] == first["pairings"]


def test_concept_and_class_labels_need_not_be_0_to_k(synthetic):
    text_train, train_ids, text_test, test_ids, image_feats, image_labels = synthetic
    out = stitching_scores(text_train, train_ids + 100, text_test, test_ids + 100, image_feats, image_labels * 3)
    assert out["accuracy_mean"] > 0.95
    assert sorted(out["pairings"][0]) == list(range(0, 3 * K, 3))


def test_stitching_errors_name_the_problem(synthetic):
    text_train, train_ids, text_test, test_ids, image_feats, image_labels = synthetic
    keep = image_labels != 9
    with pytest.raises(ValueError, match="10 concepts and 9 classes"):
        stitching_scores(text_train, train_ids, text_test, test_ids, image_feats[keep], image_labels[keep])
    short = np.flatnonzero(image_labels != 4).tolist() + np.flatnonzero(image_labels == 4)[:5].tolist()
    with pytest.raises(ValueError, match="image class 4 has 5 pool rows"):
        stitching_scores(text_train, train_ids, text_test, test_ids, image_feats[short], image_labels[short])
    with pytest.raises(ValueError, match=r"test concepts \[11\]"):
        stitching_scores(text_train, train_ids, text_test, np.full(len(test_ids), 11), image_feats, image_labels)


# --- the image side --------------------------------------------------------------------------

def test_sample_per_class_is_seeded_grouped_and_per_class_independent():
    labels = np.repeat([0, 1, 2], [30, 40, 50])
    rows = sample_per_class(labels, [2, 0], per_class=10, seed=5)
    assert len(rows) == 20 and len(set(rows)) == 20
    assert (labels[rows[:10]] == 2).all() and (labels[rows[10:]] == 0).all()
    np.testing.assert_array_equal(rows, sample_per_class(labels, [2, 0], 10, seed=5))
    assert not np.array_equal(rows, sample_per_class(labels, [2, 0], 10, seed=6))
    np.testing.assert_array_equal(sample_per_class(labels, [0], 10, seed=5), rows[10:])  # class 2 did not move it


def test_sample_per_class_names_a_class_that_is_too_small():
    with pytest.raises(ValueError, match="class 1 has 3 rows; 4 per class"):
        sample_per_class(np.array([0] * 10 + [1] * 3), [0, 1], per_class=4, seed=0)


def test_digits_images_are_offline_and_scaled():
    images, labels = digits_images()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.dtype == np.int64 and set(labels) == set(range(10))


@pytest.fixture(scope="module")
def digits_encoder():
    images, labels = digits_images()
    train, test = digits_split(labels, seed=0)
    return train_digit_encoder(images[train], labels[train], seed=0), images[test], labels[test]


def test_digit_encoder_classifies_held_out_digits(digits_encoder):
    encoder, images, labels = digits_encoder
    assert classifier_accuracy(encoder, images, labels) >= 0.9
    features = image_features(encoder, images)
    assert features.shape == (len(images), 64) and features.dtype == np.float32
    assert (features.std(axis=0) > 0).all()  # no dead embedding units


def test_digit_split_is_stratified_and_disjoint():
    labels = digits_images()[1]
    train, test = digits_split(labels, seed=0)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(labels)
    assert np.bincount(labels[test]).min() >= 50  # room for 32 stitching images per class


def test_encoder_round_trips_through_safetensors(digits_encoder, tmp_path):
    encoder, images, _ = digits_encoder
    path = tmp_path / "digit_encoder.safetensors"
    save_encoder(path, encoder)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary sibling left
    np.testing.assert_array_equal(image_features(load_encoder(path), images), image_features(encoder, images))


def test_load_encoder_rejects_other_safetensors(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a digit encoder"):
        load_encoder(tmp_path / "other.safetensors")


def test_same_seed_gives_identical_encoders_and_leaves_global_state_alone():
    images, labels = digits_images()
    images, labels = images[:400], labels[:400]
    torch.manual_seed(123)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    first = image_features(train_digit_encoder(images, labels, seed=3, epochs=2), images)
    second = image_features(train_digit_encoder(images, labels, seed=3, epochs=2), images)
    np.testing.assert_array_equal(first, second)
    other = image_features(train_digit_encoder(images, labels, seed=4, epochs=2), images)
    assert not np.array_equal(first, other)
    assert torch.equal(torch.get_rng_state(), state) and torch.get_num_threads() == threads


def test_class_structured_text_stitches_into_digit_features(digits_encoder):
    encoder, images, labels = digits_encoder
    pool = sample_per_class(labels, range(K), per_class=32, seed=0)
    feats, feat_labels = image_features(encoder, images[pool]), labels[pool]
    rng = np.random.default_rng(4)
    centres = 2 * rng.normal(size=(K, 48))
    text_train, train_ids = class_structured(rng, centres, 32)
    text_test, test_ids = class_structured(rng, centres, 32)
    out = stitching_scores(text_train, train_ids, text_test, test_ids, feats, feat_labels, n_pairings=3)
    assert out["accuracy_mean"] > 0.8 and out["shuffled_accuracy_mean"] < 2.5 / K


# --- the cluster path ----------------------------------------------------------------------

def test_cluster_path_without_torchvision_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import torchvision now fails
    with pytest.raises(ImportError, match="pip install torchvision") as err:
        resnet50_cifar100_features(tmp_path, "train", classes=[0, 1], per_class=2, seed=0)
    assert torch.__version__ in str(err.value)


def test_cluster_path_rejects_an_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="split must be"):
        resnet50_cifar100_features(tmp_path, "validation", classes=[0], per_class=1, seed=0)


def test_cluster_path_finds_torchvision_where_installed():
    pytest.importorskip("torchvision")
    from saeprobe.crossmodal.images import _import_torchvision

    assert _import_torchvision().__name__ == "torchvision"
