"""Example windows (SAEBench's rules) on hand-made activations."""

import numpy as np
import pytest

from saeprobe.interpret.windows import (
    Windows, active_threshold, alive_latents, importance_weighted_windows, mask_special_tokens, random_windows, render, top_windows,
)

CTX, BUFFER = 40, 5


def corpus(n_rows=4):
    return np.zeros((n_rows, CTX))


def test_top_windows_are_the_strongest_without_overlap_or_edges():
    acts = corpus()
    acts[0, 2] = 100.0            # too near the row's start for a window
    acts[0, 20], acts[0, 24] = 9.0, 8.0   # 24 lies within 5 of 20: passed over
    acts[0, 26] = 7.0             # 6 away from 20: kept
    acts[1, 10], acts[2, 30] = 6.0, 5.0
    windows = top_windows(acts, k=4, buffer=BUFFER)
    assert list(zip(windows.rows, windows.centres)) == [(0, 20), (0, 26), (1, 10), (2, 30)]
    values = windows.take(acts, BUFFER)
    assert values.shape == (4, 2 * BUFFER + 1) and values[:, BUFFER].tolist() == [9.0, 7.0, 6.0, 5.0]
    assert (windows.centres >= BUFFER).all() and (windows.centres < CTX - BUFFER).all()


def test_top_windows_never_overlap_on_a_dense_latent():
    acts = np.random.default_rng(0).random((3, CTX))
    windows = top_windows(acts, k=9, buffer=BUFFER)
    for row in range(3):
        centres = np.sort(windows.centres[windows.rows == row])
        assert (np.diff(centres) > BUFFER).all()


def test_importance_weighted_windows_stay_below_the_weakest_top_window():
    rng = np.random.default_rng(1)
    acts = corpus(6)
    acts[:, BUFFER:CTX - BUFFER] = rng.random((6, CTX - 2 * BUFFER))
    top = top_windows(acts, k=5, buffer=BUFFER)
    below = top.take(acts, BUFFER)[:, BUFFER].min()
    for seed in range(20):
        iw = importance_weighted_windows(acts, below, k=7, rng=np.random.default_rng(seed), buffer=BUFFER)
        centre_acts = iw.take(acts, BUFFER)[:, BUFFER]
        assert len(iw) == 7 and (centre_acts < below).all() and (centre_acts > 0).all()
        assert len(set(zip(iw.rows, iw.centres))) == 7  # without replacement


def test_importance_weights_are_the_squared_activations():
    acts = corpus(1)
    acts[0, 10], acts[0, 20] = 1.0, 2.0  # squared: 1 to 4
    counts = np.zeros(CTX)
    rng = np.random.default_rng(2)
    for _ in range(4000):
        iw = importance_weighted_windows(acts, below=5.0, k=1, rng=rng, buffer=BUFFER)
        counts[iw.centres[0]] += 1
    assert counts[20] / counts[10] == pytest.approx(4.0, rel=0.1)
    # Only the two firing positions can be drawn, so k = 7 gives two windows.
    assert len(importance_weighted_windows(acts, 5.0, k=7, rng=rng, buffer=BUFFER)) == 2


def test_no_importance_weighted_windows_where_nothing_fires_below_the_top():
    acts = corpus()
    acts[0, 20] = 3.0
    assert importance_weighted_windows(acts, below=3.0, k=7, rng=np.random.default_rng(0), buffer=BUFFER) is None


def test_random_windows_fit_their_rows():
    windows = random_windows(5, CTX, k=200, rng=np.random.default_rng(0), buffer=BUFFER)
    assert windows.rows.min() >= 0 and windows.rows.max() < 5
    assert windows.centres.min() >= BUFFER and windows.centres.max() < CTX - BUFFER
    assert windows.take(np.zeros((5, CTX)), BUFFER).shape == (200, 2 * BUFFER + 1)


def test_special_tokens_are_masked_and_dead_latents_left_out():
    tokens = np.array([[1, 5, 6, 0, 0], [1, 7, 2, 0, 0]])  # BOS 1, EOS 2, PAD 0
    acts = np.full(tokens.shape, 3.0)
    assert mask_special_tokens(acts, tokens, {0, 1, 2}).tolist() == [[0, 3, 3, 0, 0], [0, 3, 0, 0, 0]]
    assert alive_latents(np.array([0, 15, 16, 400])).tolist() == [2, 3]


def test_a_token_is_active_above_a_hundredth_of_the_strongest_top_activation():
    assert active_threshold(np.array([[0.0, 2.0], [50.0, 1.0]])) == pytest.approx(0.5)


def test_rendering_marks_each_active_token():
    tokens = ["The", " cat", " sat", "\n", "on\ufffd"]
    acts = np.array([0.0, 5.0, 4.0, 0.001, 2.0])
    assert render(tokens, acts, threshold=0.05) == "The<< cat>><< sat>>↵<<on>>"
    assert render(tokens, acts, threshold=0.05, marks=("{{", "}}")) == "The{{ cat}}{{ sat}}↵{{on}}"


def test_windows_subset():
    windows = Windows(np.array([0, 1, 2]), np.array([5, 6, 7]))
    assert windows.subset([2, 0]).centres.tolist() == [7, 5]


# -- the interpretation corpus and an SAE's examples over it
def test_corpus_rows_join_documents_with_eos_and_open_with_bos():
    from saeprobe.interpret.corpus import token_rows

    rows = token_rows([[5, 6, 7], [8], [9, 10, 11, 12]], ctx=4, n_rows=10, bos_id=1, eos_id=2)
    # stream 5 6 7 2 8 2 9 10 11 12 2: three full pieces of 3, the last 2 tokens dropped
    assert rows.tolist() == [[1, 5, 6, 7], [1, 2, 8, 2], [1, 9, 10, 11]]
    assert token_rows([[5, 6, 7], [8], [9, 10, 11, 12]], ctx=4, n_rows=2, bos_id=1, eos_id=2).shape == (2, 4)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        token_rows([[5]], ctx=1, n_rows=1, bos_id=1, eos_id=2)


class OneHotSAE:
    """Latent i is input coordinate i, rectified: activations chosen by hand."""

    def __init__(self, width):
        self.width = width

    def encode(self, x):
        return x.clamp_min(0)


def test_sae_examples_sample_alive_latents_and_mask_special_tokens():
    from saeprobe.interpret.examples import N_RANDOM, N_TOP, sae_examples

    rows, ctx, width = 30, 40, 4
    rng = np.random.default_rng(0)
    tokens = rng.integers(3, 50, size=(rows, ctx))
    tokens[:, 0] = 1  # BOS
    acts = np.zeros((rows, ctx, width), np.float16)
    acts[:, :, 0] = rng.random((rows, ctx)) * (rng.random((rows, ctx)) < 0.3)   # alive, fires widely
    acts[:, 0, 1] = 50.0                      # latent 1 fires only on BOS: dead once masked
    acts[:3, 12, 2] = 1.0                     # latent 2 fires on 3 tokens: dead
    acts[:, 15, 3] = np.linspace(0.1, 3, rows)  # alive: one position per row
    examples = sae_examples(OneHotSAE(width), acts, tokens, {1}, str, n_latents=5, seed=0)
    assert sorted(examples["latent"].unique()) == [0, 3]
    latent3 = examples[examples["latent"] == 3]
    top = latent3[latent3["kind"] == "top"].sort_values("rank")
    assert len(top) == N_TOP and top["row"].tolist() == list(range(rows - 1, rows - 1 - N_TOP, -1))
    assert (top["centre"] == 15).all() and all(len(t) == 21 for t in top["tokens"])
    assert top["tokens"].iloc[0] == [str(t) for t in tokens[rows - 1, 5:26]]
    iw = latent3[latent3["kind"] == "iw"]
    assert len(iw) and max(max(a) for a in iw["acts"]) < min(max(a) for a in top["acts"])  # below the top windows
    assert (latent3["kind"] == "random").sum() == N_RANDOM
    assert (examples["firings"][examples["latent"] == 3] == rows).all()


def test_a_smaller_latent_sample_is_the_start_of_a_larger_one():
    from saeprobe.interpret.examples import sample_latents

    firings = np.array([0, 40, 16, 15, 99, 30, 20, 50, 17])  # alive: more than 15
    larger = sample_latents(firings, 5, seed=42)
    assert sample_latents(firings, 3, seed=42) == larger[:3] and len(set(larger)) == 5
    assert set(sample_latents(firings, 100, seed=42)) == {1, 2, 4, 5, 6, 7, 8}
    assert sample_latents(firings, 5, seed=1) != larger
