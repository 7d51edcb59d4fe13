"""The HH-RLHF alignment study's model-free parts on hand-made inputs."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import pearsonr, ttest_rel

from saeprobe.temporal.alignment import (PairDifferences, common_prefix_chars, length_summary, pair_differences,
                                         rank_features, read_explanations, read_preference_pairs, response_means,
                                         response_token_mask)


@pytest.mark.parametrize("chosen, rejected, expected", [
    ("same text", "same text", 9), ("abc", "xyz", 0), ("Human: hi", "Human: hi there", 9), ("ab", "", 0)])
def test_common_prefix(chosen, rejected, expected):
    assert common_prefix_chars(chosen, rejected) == expected


def test_response_tokens_start_at_the_token_that_crosses_the_prefix():
    # Spans of "<bos> Human: hi | Assistant: yes", the sides part at character 20.
    offsets = np.array([[0, 0], [0, 6], [7, 9], [10, 19], [19, 22], [22, 25], [0, 0]])
    attention = np.array([1, 1, 1, 1, 1, 1, 0])
    assert response_token_mask(offsets, 20, attention).tolist() == [False, False, False, False, True, True, False]
    # A token ending exactly at the prefix is the prefix's.
    assert response_token_mask(offsets, 22).tolist() == [False] * 5 + [True, False]
    batched = response_token_mask(np.stack([offsets, offsets]), [20, 9], np.stack([attention, attention]))
    assert batched.tolist() == [[False] * 4 + [True, True, False], [False] * 3 + [True, True, True, False]]


def test_response_means_average_over_the_response_and_mark_empty_rows():
    codes = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    means, lengths = response_means(codes, np.array([[False, True, True], [False, False, False]]))
    assert means[0].tolist() == [(2 + 4) / 2, (3 + 5) / 2] and np.isnan(means[1]).all()
    assert lengths.tolist() == [2, 0]


def hand_differences():
    rejected = np.array([[1.0, 0.0, 5.0], [2.0, 1.0, 1.0], [3.0, 2.0, 0.0], [9.0, 9.0, 9.0]])
    chosen = np.array([[1.0, 0.5, 6.0], [1.0, 0.5, 4.0], [1.0, 0.5, 3.0], [0.0, 0.0, 0.0]])
    return pair_differences(rejected, chosen, [3, 4, 5, 2], [2, 2, 2, 0])  # the last pair has no chosen response


def test_features_rank_by_the_size_of_the_mean_difference():
    differences = hand_differences()
    assert differences.kept.tolist() == [True, True, True, False] and differences.length.tolist() == [1, 2, 3]
    table = rank_features(differences, top=2, explanations={2: "refusals"})
    # Mean differences: latent 0 (0 + 1 + 2) / 3 = 1, latent 1 (-0.5 + 0.5 + 1.5) / 3 = 0.5, latent 2 (-1 - 3 - 3) / 3.
    assert table["latent"].tolist() == [2, 0] and table["rank"].tolist() == [1, 2]
    assert table["diff"].tolist() == pytest.approx([-7 / 3, 1.0])
    assert table["explanation"].tolist() == ["refusals", ""]
    # Latent 0's difference grows one for one with the length difference.
    assert table.loc[1, "length_r"] == pytest.approx(1.0)
    assert table.loc[0, "length_r"] == pytest.approx(pearsonr([-1, -3, -3], [1, 2, 3]).statistic)
    assert len(rank_features(differences, top=10)) == 3


def test_a_constant_difference_has_no_length_correlation():
    differences = PairDifferences(np.array([[1.0], [1.0], [1.0]]), np.array([1.0, 2.0, 3.0]), np.ones(3, bool))
    assert np.isnan(rank_features(differences, top=1)["length_r"].iloc[0])


def test_length_summary_is_the_paired_t_test():
    rejected, chosen = [50, 40, 61, 35, 3], [38, 30, 40, 36, 0]
    summary = length_summary(rejected, chosen)
    expected = ttest_rel(rejected[:4], chosen[:4])
    assert summary["pairs"] == 4 and summary["mean_rejected_tokens"] == pytest.approx(46.5)
    assert summary["t_statistic"] == pytest.approx(expected.statistic)
    assert summary["p_value"] == pytest.approx(expected.pvalue)
    assert length_summary([5], [3])["p_value"] is None


@pytest.mark.parametrize("name, content", [
    ("flat.json", {"3": "the word 'no'", "7": "apologies"}),
    ("records.json", [{"latent": 3, "explanation": "the word 'no'"}, {"index": 7, "explanation": "apologies"}]),
    ("saebench.json", {"eval_result_unstructured": {"3": {"explanation": "the word 'no'", "score": 0.9},
                                                    "7": {"explanation": "apologies"}}}),
])
def test_explanations_are_read_in_each_shape(tmp_path, name, content):
    (tmp_path / name).write_text(json.dumps(content))
    assert read_explanations(tmp_path / name) == {3: "the word 'no'", 7: "apologies"}


def test_explanations_from_a_table_skip_empty_ones_and_odd_files_are_named(tmp_path):
    pd.DataFrame({"latent": [3, 7, 9], "explanation": ["no", "sorry", ""]}).to_parquet(tmp_path / "d.parquet")
    assert read_explanations(tmp_path / "d.parquet") == {3: "no", 7: "sorry"}
    (tmp_path / "odd.json").write_text(json.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="odd.json: latent explanations must be one of"):
        read_explanations(tmp_path / "odd.json")


def test_preference_pairs_are_read_from_each_format(tmp_path):
    pairs = pd.DataFrame({"chosen": ["a", "b"], "rejected": ["c", "d"], "extra": [1, 2]})
    pairs.to_json(tmp_path / "p.jsonl", orient="records", lines=True)
    pairs.to_parquet(tmp_path / "p.parquet")
    (tmp_path / "p.json").write_text(pairs.to_json(orient="records"))
    for name in ("p.jsonl", "p.parquet", "p.json"):
        assert read_preference_pairs(tmp_path / name).equals(pairs[["chosen", "rejected"]])
    pairs[["chosen"]].to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="bad.csv: preference pairs need the columns chosen and rejected"):
        read_preference_pairs(tmp_path / "bad.csv")
