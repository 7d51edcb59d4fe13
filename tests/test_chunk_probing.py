"""Chunk probing of temporal SAEs (analysis-methods.md §5.5–5.6) on small synthetic data."""

import numpy as np
import pandas as pd
import pytest

from saeprobe.temporal.chunk_probing import (
    CHUNKS,
    REPRESENTATIONS,
    chunk_columns,
    chunk_probe_table,
    class_contrast_features,
    probe_accuracy,
    split_indices,
    tsne_embedding,
)


def blobs(n=400, d=20, shift_cols=(3, 7, 11), shift=4.0, seed=0):
    # Two balanced classes, class 1 moved by `shift` on a few columns only.
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    x = rng.normal(size=(n, d))
    x[np.ix_(y == 1, list(shift_cols))] += shift
    return x, y


def test_constants():
    assert CHUNKS == ("high", "low", "all")
    assert REPRESENTATIONS == ("residual", "high", "low", "all")


# --- class_contrast_features -------------------------------------------------

def test_contrast_features_picks_each_class_column():
    # Class 0 is high on column 4, class 1 on column 1, class 2 on column 6.
    y = np.array([0, 0, 1, 1, 2, 2])
    x = np.zeros((6, 8))
    x[y == 0, 4] = 5.0
    x[y == 1, 1] = 5.0
    x[y == 2, 6] = 5.0
    got = class_contrast_features(x, y, per_class=1)
    np.testing.assert_array_equal(got, [1, 4, 6])
    assert got.dtype == np.int64


def test_contrast_features_union_is_sorted_and_deduplicated():
    # The picks of the two classes overlap nowhere; the union comes back sorted.
    y = np.array([0, 0, 1, 1])
    x = np.array([
        [3.0, 0.0, 9.0, 0.0, 0.0, 0.0],
        [3.0, 0.0, 9.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 7.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 7.0],
    ])
    # class 0: diffs (3, 0, 9, 0, 0, -7) -> top 2 = 2, 0
    # class 1: diffs (-3, 0, -9, 0, 0, 7) -> top 2 = 5, then tie at 0 among 1, 3, 4 -> 1
    np.testing.assert_array_equal(class_contrast_features(x, y, per_class=2), [0, 1, 2, 5])


def test_contrast_features_ties_go_to_lower_index():
    y = np.array([0, 1])
    x = np.zeros((2, 5))  # every difference is 0
    np.testing.assert_array_equal(class_contrast_features(x, y, per_class=2), [0, 1])


def test_contrast_features_per_class_beyond_width_takes_all():
    x, y = blobs(n=40, d=6, shift_cols=(1, 3))
    np.testing.assert_array_equal(class_contrast_features(x, y, per_class=50), np.arange(6))


def test_contrast_features_needs_two_classes():
    with pytest.raises(ValueError, match="2 classes"):
        class_contrast_features(np.ones((4, 3)), np.zeros(4))


# --- probe_accuracy ----------------------------------------------------------

def test_probe_separable_blobs_are_perfect():
    x, y = blobs()
    train, test = split_indices(len(y), seed=0)
    result = probe_accuracy(x, y, train, test, per_class=3)
    assert result["test_accuracy"] == 1.0
    assert result["train_accuracy"] == 1.0
    # With 3 per class, class 1 picks the shifted columns and class 0 picks 3 others.
    assert result["n_features"] == len(class_contrast_features(x[train], y[train], per_class=3)) == 6
    assert (result["n_train"], result["n_test"], result["n_classes"]) == (300, 100, 2)
    assert result["converged"] is True
    assert set(result) == {"train_accuracy", "test_accuracy", "n_features", "n_train", "n_test",
                           "n_classes", "converged"}


def test_probe_on_noise_labels_is_near_chance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 20))
    y = rng.permutation(np.repeat([0, 1], 200))
    train, test = split_indices(len(y), seed=1)
    result = probe_accuracy(x, y, train, test)
    assert 0.3 <= result["test_accuracy"] <= 0.7
    assert result["n_features"] == len(class_contrast_features(x[train], y[train]))


def test_probe_counts_unseen_test_classes_as_wrong():
    x, y = blobs(n=40, d=6, shift_cols=(1, 3))
    y = y.copy()
    train = np.arange(0, 40, 2)
    test = np.arange(1, 40, 2)
    y[test[:4]] = 7  # class 7 never occurs in train
    result = probe_accuracy(x, y, train, test, per_class=3)
    assert result["n_classes"] == 2
    assert result["test_accuracy"] <= (len(test) - 4) / len(test)


def test_probe_reports_non_convergence_without_warning(recwarn):
    # Columns spread over seven orders of magnitude, random labels: lbfgs runs out of its 100 iterations.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 10)) * np.logspace(-3, 4, 10)
    y = rng.integers(0, 3, size=400)
    train, test = split_indices(400, seed=0)
    result = probe_accuracy(x, y, train, test)
    assert result["converged"] is False
    from sklearn.exceptions import ConvergenceWarning
    assert not [w for w in recwarn if issubclass(w.category, ConvergenceWarning)]


# --- split_indices -----------------------------------------------------------

def test_split_is_seeded_partition():
    train, test = split_indices(4000, seed=3)
    assert (len(train), len(test)) == (3000, 1000)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(4000))
    again = split_indices(4000, seed=3)
    np.testing.assert_array_equal(train, again[0])
    np.testing.assert_array_equal(test, again[1])
    other, _ = split_indices(4000, seed=4)
    assert not np.array_equal(train, other)


def test_split_rounds_and_rejects_empty_sides():
    train, test = split_indices(10, seed=0)
    assert (len(train), len(test)) == (8, 2)  # round(7.5) = 8
    with pytest.raises(ValueError, match="empty"):
        split_indices(1, seed=0)
    with pytest.raises(ValueError, match="empty"):
        split_indices(3, seed=0, train_fraction=0.9)


# --- chunk_columns -----------------------------------------------------------

def test_chunk_columns():
    assert chunk_columns("high", 4, 16) == slice(0, 4)
    assert chunk_columns("low", 4, 16) == slice(4, 16)
    assert chunk_columns("all", 4, 16) == slice(0, 16)
    assert chunk_columns("all", None, 16) == slice(0, 16)
    codes = np.arange(16)
    assert len(codes[chunk_columns("high", 4, 16)]) + len(codes[chunk_columns("low", 4, 16)]) == 16


@pytest.mark.parametrize("chunk", ["high", "low"])
def test_chunk_columns_without_groups(chunk):
    with pytest.raises(ValueError, match=f"'{chunk}'.*no high/low groups"):
        chunk_columns(chunk, None, 16)


def test_chunk_columns_errors():
    with pytest.raises(ValueError, match="high.*low.*all"):
        chunk_columns("middle", 4, 16)
    with pytest.raises(ValueError, match="n_high"):
        chunk_columns("low", 16, 16)


# --- chunk_probe_table -------------------------------------------------------

def test_chunk_probe_table_rows_share_one_split():
    x, y = blobs(n=200, d=12, shift_cols=(1, 2))
    reps = {"residual": x, "high": x[:, :6], "low": x[:, 6:]}
    table = chunk_probe_table("semantics", reps, y, seed=0, per_class=2)
    assert isinstance(table, pd.DataFrame)
    assert list(table["representation"]) == ["residual", "high", "low"]
    assert list(table.columns) == ["task", "representation", "train_accuracy", "test_accuracy",
                                   "n_features", "n_train", "n_test", "n_classes", "converged"]
    assert (table["task"] == "semantics").all()
    assert table["n_train"].nunique() == 1 and table["n_test"].nunique() == 1
    # Only the high chunk holds the shifted columns: it must beat the low chunk.
    by_rep = table.set_index("representation")["test_accuracy"]
    assert by_rep["high"] == 1.0 and by_rep["low"] < 0.8


def test_chunk_probe_table_rejects_wrong_length():
    x, y = blobs(n=40, d=6, shift_cols=(1, 3))
    with pytest.raises(ValueError, match="'low'"):
        chunk_probe_table("syntax", {"high": x, "low": x[:-1]}, y, seed=0)


# --- tsne_embedding ----------------------------------------------------------

def test_tsne_shape_and_determinism_on_small_n():
    x = np.random.default_rng(0).normal(size=(12, 5))
    a = tsne_embedding(x, seed=0)
    b = tsne_embedding(x, seed=0)
    assert a.shape == (12, 2)
    assert np.isfinite(a).all()
    np.testing.assert_allclose(a, b)


def test_prompt_sample_leaves_out_texts_of_two_domains_and_is_seeded():
    from saeprobe.temporal.chunk_probing import prompt_sample

    prompts = pd.DataFrame({"dataset": ["a", "a", "b", "b", "b"], "row": [0, 1, 0, 1, 2],
                            "text": ["x", "shared", "shared", "y", "z"]})
    sample = prompt_sample(prompts, 10, seed=0)
    assert sorted(sample["text"]) == ["x", "y", "z"]
    assert prompt_sample(prompts, 2, seed=3).equals(prompt_sample(prompts, 2, seed=3))
    assert len(prompt_sample(prompts, 2, seed=3)) == 2


def test_context_task_takes_the_last_tokens_of_drawn_sequences():
    from saeprobe.temporal.chunk_probing import context_task

    sequences = np.arange(5 * 6 * 2, dtype=float).reshape(5, 6, 2)  # value = (row * 6 + t) * 2 + dim
    x, document = context_task(sequences, rows=3, tokens=2, seed=0)
    assert x.shape == (6, 2) and document.tolist() == [0, 0, 1, 1, 2, 2]
    positions = (x[:, 0] // 2).astype(int) % 6
    assert positions.tolist() == [4, 5] * 3
    rows = (x[::2, 0] // 12).astype(int)
    assert len(set(rows)) == 3 and list(rows) == sorted(rows)
    with pytest.raises(ValueError, match="at least 2 held-out sequences"):
        context_task(sequences[:1], rows=3, tokens=2, seed=0)
    with pytest.raises(ValueError, match="context_tokens must be within 1..6"):
        context_task(sequences, rows=3, tokens=7, seed=0)


def test_sae_chunks_split_grouped_codes_and_keep_all_of_the_rest():
    import torch

    from saeprobe.saes import TemporalMatryoshkaBatchTopKSAE, TopKSAE
    from saeprobe.temporal.chunk_probing import sae_chunks

    x = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    temporal = TemporalMatryoshkaBatchTopKSAE(d_in=4, width=10, k=2)
    temporal.init_weights(torch.Generator().manual_seed(0))
    temporal.threshold.fill_(0.0)
    chunks = sae_chunks(temporal.eval(), x)
    with torch.no_grad():
        codes = temporal.encode(torch.from_numpy(x)).numpy()
    assert list(chunks) == ["high", "low", "all"]
    np.testing.assert_array_equal(chunks["high"], codes[:, :2])
    np.testing.assert_array_equal(chunks["low"], codes[:, 2:])
    assert list(sae_chunks(TopKSAE(d_in=4, width=10, k=2).eval(), x)) == ["all"]


def test_last_token_vectors_follow_the_sample_order(tmp_path):
    from saeprobe.paths import activation_file_name
    from saeprobe.temporal.chunk_probing import last_token_vectors

    for name, offset in (("a", 0), ("b", 100)):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / activation_file_name(3), np.arange(offset, offset + 10, dtype=np.float32)[:, None])
    prompts = pd.DataFrame({"dataset": ["b", "a", "b"], "row": [4, 2, 0]})
    vectors = last_token_vectors(prompts, [tmp_path / "a", tmp_path / "b"], layer=3)
    assert vectors[:, 0].tolist() == [104.0, 2.0, 100.0]
