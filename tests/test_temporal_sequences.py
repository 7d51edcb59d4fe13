"""The sequence corpus of temporal SAEs: order kept, BOS left out, outliers
masked, rows from disjoint documents, and streamed as tokens or pairs."""

import numpy as np
import pytest

from saeprobe.paths import sequence_file_name, sequence_valid_file_name
from saeprobe.temporal.corpus import heldout_documents, interleaved_rows, shard_rows
from saeprobe.temporal.sequences import SequenceShards, heldout_sequences, sequence_rows

LAYER = 3


def position_coded(rows=3, ctx=6, d=4, first_row=0):
    """Token t of row r carries r * 100 + t + 1000 in its first coordinate (norms within 2x
    of each other), so a drawn vector says where it sat; token 3 of row 1 is an outlier."""
    acts = np.ones((rows, ctx, d), np.float32)
    acts[..., 0] = (np.arange(rows)[:, None] + first_row) * 100 + np.arange(ctx)[None, :] + 1000
    if rows > 1:
        acts[1, 3] *= 50
    return acts


def write_shard(folder, acts):
    """A sequence shard as the sequence_corpus rule writes it, from rows that open with BOS."""
    folder.mkdir(parents=True)
    body, valid = sequence_rows(acts)
    np.save(folder / sequence_file_name(LAYER), body)
    np.save(folder / sequence_valid_file_name(LAYER), valid)
    return folder


def test_rows_keep_their_order_without_bos_and_mask_outliers_in_place():
    acts = position_coded()
    body, valid = sequence_rows(acts)
    assert body.shape == (3, 5, 4) and np.array_equal(body, acts[:, 1:])
    assert valid.sum() == 14 and not valid[1, 2]  # position 3 of the row is 2 once BOS is gone


@pytest.fixture
def shards(tmp_path):
    train = [write_shard(tmp_path / "train_0", position_coded()),
             write_shard(tmp_path / "train_1", position_coded(rows=2, first_row=3))]
    heldout = [write_shard(tmp_path / "heldout", position_coded(rows=3, first_row=7))]
    return train, heldout


def where(vectors):
    """(row, position after BOS) of position-coded vectors."""
    code = vectors[..., 0].astype(int) - 1000
    return code // 100, code % 100 - 1


def test_single_tokens_come_from_every_shard_and_skip_the_masked_one(shards):
    data = SequenceShards(*shards, LAYER)
    # Row 1 of each shard holds an outlier: rows 1 and 4 of the corpus.
    assert (data.length, data.d_in) == (5, 4) and data.n_train == 5 * 5 - 2
    rows, t = where(data.train_batch(0, 2000, seed=0))
    assert set(zip(rows, t)) == {(r, p) for r in range(5) for p in range(5)} - {(1, 2), (4, 2)}
    np.testing.assert_array_equal(data.train_batch(4, 64, 0), data.train_batch(4, 64, 0))
    assert not np.array_equal(data.train_batch(4, 64, 0), data.train_batch(5, 64, 0))


@pytest.mark.parametrize("mode", ["p", "r"])
def test_pairs_stay_in_their_row_before_t_and_skip_masked_tokens(shards, mode):
    data = SequenceShards(*shards, LAYER, pair_mode=mode)
    batch = data.train_batch(0, 3000, seed=1)
    assert batch.shape == (3000, 2, 4)
    (row_now, t_now), (row_prev, t_prev) = where(batch[:, 0]), where(batch[:, 1])
    assert (row_now == row_prev).all() and (t_prev < t_now).all()
    assert not (np.isin(row_now, [1, 4]) & ((t_now == 2) | (t_prev == 2))).any()
    if mode == "p":
        assert (t_prev == t_now - 1).all()
    else:
        assert (t_prev < t_now - 1).any()
    np.testing.assert_array_equal(batch, data.train_batch(0, 3000, seed=1))


def test_held_out_tokens_and_whole_sequences(shards):
    data = SequenceShards(*shards, LAYER)
    assert data.n_eval == 14 and len(data.eval_rows()) == 14
    sequences, left_out = heldout_sequences(shards[1], LAYER)
    assert left_out == 1 and sequences.shape == (2, 5, 4)
    assert set(where(sequences)[0].ravel()) == {7, 9}  # the row holding the outlier is left out


def test_shards_of_other_shapes_are_named(tmp_path, shards):
    odd = write_shard(tmp_path / "odd", position_coded(ctx=8))
    with pytest.raises(ValueError, match="differ in shape"):
        SequenceShards([*shards[0], odd], shards[1], LAYER)


def test_rows_are_cut_per_source_and_taken_in_turn():
    documents = {"a": [[1, 2, 3], [4, 5]], "b": [[6, 7, 8, 9, 10, 11, 12]]}
    rows, sources = interleaved_rows(documents, ctx=4, n_rows=10, bos_id=0, eos_id=99)
    # a: 1 2 3 99 4 5 99 -> [0 1 2 3] [0 99 4 5]; b: 6 ... 12 99 -> [0 6 7 8] [0 9 10 11]
    assert sources == ["a", "b", "a", "b"]
    np.testing.assert_array_equal(rows, [[0, 1, 2, 3], [0, 6, 7, 8], [0, 99, 4, 5], [0, 9, 10, 11]])
    rows, sources = interleaved_rows(documents, ctx=4, n_rows=3, bos_id=0, eos_id=99)
    assert sources == ["a", "b", "a"]
    with pytest.raises(ValueError, match="no row of 40 tokens"):
        interleaved_rows(documents, ctx=40, n_rows=3, bos_id=0, eos_id=99)


def test_training_and_held_out_documents_are_disjoint_and_shards_partition_the_rows():
    documents = [f"doc {i}" for i in range(25)]
    heldout, train = heldout_documents(documents, True), heldout_documents(documents, False)
    assert heldout == ["doc 0", "doc 10", "doc 20"] and set(heldout) | set(train) == set(documents)
    parts = [shard_rows(10, s, 3) for s in range(3)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="shard 3"):
        shard_rows(10, 3, 3)
