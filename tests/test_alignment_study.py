"""The HH-RLHF alignment study's model-free parts (analysis-methods.md §5.7) on hand-made data."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from saeprobe.temporal.alignment import (
    PairDifferences,
    common_prefix_chars,
    length_summary,
    pair_differences,
    rank_features,
    read_explanations,
    read_preference_pairs,
    response_means,
    response_token_mask,
)

# --- common_prefix_chars -----------------------------------------------------


@pytest.mark.parametrize("chosen, rejected, expected", [
    ("\n\nHuman: hi\n\nAssistant: yes", "\n\nHuman: hi\n\nAssistant: yes", 27),  # equal
    ("abc", "xyz", 0),  # disjoint
    ("Human: hi", "Human: hi there", 9),  # one a prefix of the other
    ("Human: hi there", "Human: hi", 9),
    ("Assistant: no", "Assistant: sure", 11),
    ("", "anything", 0),
])
def test_common_prefix_chars(chosen, rejected, expected):
    assert common_prefix_chars(chosen, rejected) == expected


# --- response_token_mask -----------------------------------------------------

# "<bos>" + "Human: hi" + " Assistant: yes" + "<pad>": spans as a fast tokenizer gives them.
OFFSETS = np.array([[0, 0], [0, 5], [6, 9], [9, 19], [19, 22], [22, 25], [0, 0]])
ATTENTION = np.array([1, 1, 1, 1, 1, 1, 0])


def test_the_token_straddling_the_prefix_is_response():
    # The sides part at character 20: token [19, 22) straddles it.
    mask = response_token_mask(OFFSETS, 20, ATTENTION)
    assert mask.tolist() == [False, False, False, False, True, True, False]


def test_a_token_ending_at_the_prefix_is_not_response():
    assert response_token_mask(OFFSETS, 22).tolist() == [False, False, False, False, False, True, False]


def test_special_tokens_never_count_even_with_no_prefix():
    # With prefix 0 every real token is response; (0, 0) spans are not.
    assert response_token_mask(OFFSETS, 0).tolist() == [False, True, True, True, True, True, False]
    # An empty span inside the response (some tokenizers give one to an added token) is no token either.
    assert response_token_mask(np.array([[19, 22], [25, 25]]), 20).tolist() == [True, False]


def test_padding_does_not_count():
    # A padded row whose pad positions carry a real-looking span: only the attention mask excludes them.
    offsets = np.array([[0, 3], [3, 8], [3, 8]])
    assert response_token_mask(offsets, 2).tolist() == [True, True, True]
    assert response_token_mask(offsets, 2, np.array([1, 1, 0])).tolist() == [True, True, False]


def test_batched_mask_uses_each_rows_prefix():
    offsets = np.stack([OFFSETS, OFFSETS])
    mask = response_token_mask(offsets, [20, 9], np.stack([ATTENTION, ATTENTION]))
    assert mask.shape == (2, 7)
    assert mask.tolist() == [[False, False, False, False, True, True, False],
                             [False, False, False, True, True, True, False]]
    with pytest.raises(ValueError):
        response_token_mask(offsets, [20])


# --- response_means ----------------------------------------------------------


def test_response_means_average_over_response_tokens():
    codes = np.arange(3 * 3 * 2, dtype=np.float32).reshape(3, 3, 2)
    mask = np.array([[False, True, True], [True, False, False], [False, False, False]])
    means, lengths = response_means(codes, mask)
    assert means.shape == (3, 2)
    assert means[0].tolist() == [(2 + 4) / 2, (3 + 5) / 2]
    assert means[1].tolist() == [6.0, 7.0]
    # Nothing left of the response (e.g. truncated away): NaN and length 0.
    assert np.isnan(means[2]).all()
    assert lengths.tolist() == [2, 1, 0] and lengths.dtype.kind == "i"


# --- pair_differences and rank_features --------------------------------------

# Four pairs of three latents; the last pair has no chosen response and is dropped.
REJECTED = np.array([[1.0, 0.0, 5.0], [2.0, 1.0, 1.0], [3.0, 2.0, 0.0], [9.0, 9.0, 9.0]])
CHOSEN = np.array([[1.0, 0.5, 6.0], [1.0, 0.5, 4.0], [1.0, 0.5, 3.0], [np.nan, np.nan, np.nan]])
REJECTED_LENGTHS = np.array([3, 4, 5, 2])
CHOSEN_LENGTHS = np.array([2, 2, 2, 0])


def hand_differences():
    return pair_differences(REJECTED, CHOSEN, REJECTED_LENGTHS, CHOSEN_LENGTHS)


def test_pair_differences_keep_pairs_with_both_responses():
    differences = hand_differences()
    assert differences.kept.tolist() == [True, True, True, False]
    assert differences.length.tolist() == [1, 2, 3]
    np.testing.assert_array_equal(differences.activation, [[0.0, -0.5, -1.0], [1.0, 0.5, -3.0], [2.0, 1.5, -3.0]])
    with pytest.raises(AttributeError):  # frozen
        differences.length = np.zeros(3)


def test_largest_negative_difference_ranks_first():
    table = rank_features(hand_differences(), top=2, explanations={2: "refusals", 5: "unused"})
    assert list(table.columns) == ["rank", "latent", "diff", "abs_diff", "length_r", "explanation"]
    assert table["rank"].tolist() == [1, 2]
    assert table["latent"].tolist() == [2, 0]
    # Hand means: latent 2 (-1 - 3 - 3) / 3, latent 0 (0 + 1 + 2) / 3; latent 1 (0.5) is cut by top=2.
    assert table["diff"].tolist() == pytest.approx([-7 / 3, 1.0])
    assert table["abs_diff"].tolist() == pytest.approx([7 / 3, 1.0])
    assert table["explanation"].tolist() == ["refusals", ""]


def test_length_r_is_pearson_with_the_length_difference():
    table = rank_features(hand_differences(), top=3).set_index("latent")
    lengths = [1, 2, 3]
    assert table.loc[2, "length_r"] == pytest.approx(stats.pearsonr([-1.0, -3.0, -3.0], lengths)[0])
    assert table.loc[2, "length_r"] == pytest.approx(np.corrcoef([-1.0, -3.0, -3.0], lengths)[0, 1])
    # Latent 0's difference is the length difference minus one: r = 1.
    assert table.loc[0, "length_r"] == pytest.approx(1.0)
    assert table.loc[1, "length_r"] == pytest.approx(1.0)


def test_constant_differences_have_nan_length_r():
    # Latent 0 is constant (0.1 thrice, which a float mean does not centre exactly); the lengths vary.
    activation = np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 4.0]])
    table = rank_features(PairDifferences(activation, np.array([1, 2, 3]), np.ones(3, bool)), top=5)
    assert table["latent"].tolist() == [1, 0]  # top beyond n_latents gives all
    assert np.isnan(table.set_index("latent").loc[0, "length_r"])
    assert not np.isnan(table.set_index("latent").loc[1, "length_r"])
    # Constant length difference: every r is NaN.
    same_length = rank_features(PairDifferences(activation, np.array([2, 2, 2]), np.ones(3, bool)), top=2)
    assert same_length["length_r"].isna().all()


def test_ties_go_to_the_lower_latent():
    activation = np.array([[1.0, -2.0, 2.0, -1.0]])
    table = rank_features(PairDifferences(activation, np.array([1]), np.ones(1, bool)), top=4)
    assert table["latent"].tolist() == [1, 2, 0, 3]


# --- length_summary ----------------------------------------------------------


def test_length_summary_is_the_paired_t_test_over_complete_pairs():
    rejected, chosen = [50, 40, 61, 35, 7, 0], [38, 30, 40, 36, 0, 5]  # the last two pairs lack a side
    summary = length_summary(rejected, chosen)
    expected = stats.ttest_rel(rejected[:4], chosen[:4])
    assert summary["pairs"] == 4
    assert summary["mean_rejected_tokens"] == pytest.approx(46.5)
    assert summary["mean_chosen_tokens"] == pytest.approx(36.0)
    assert summary["t_statistic"] == pytest.approx(expected.statistic)
    assert summary["p_value"] == pytest.approx(expected.pvalue)


def test_length_summary_without_a_test_is_nan():
    one = length_summary([5, 3], [3, 0])
    assert one["pairs"] == 1 and one["mean_rejected_tokens"] == 5.0
    assert np.isnan(one["t_statistic"]) and np.isnan(one["p_value"])
    equal = length_summary([5, 6, 7], [3, 4, 5])  # every difference is 2
    assert np.isnan(equal["t_statistic"]) and np.isnan(equal["p_value"])


# --- read_explanations -------------------------------------------------------

EXPECTED_EXPLANATIONS = {3: "the word 'no'", 7: "apologies"}


@pytest.mark.parametrize("content", [
    {"3": "the word 'no'", "7": "apologies"},
    [{"latent": 3, "explanation": "the word 'no'"}, {"feature": "7", "explanation": "apologies"}],
    [{"index": 3, "explanation": "the word 'no'"}, {"index": 7, "explanation": "apologies"}],
    {"eval_config": {"model_name": "m"},
     "eval_result_unstructured": {"3": {"explanation": "the word 'no'", "score": 0.9},
                                  "7": {"explanation": "apologies", "predictions": [1, 2]}}},
], ids=["mapping", "records", "records-index", "saebench"])
def test_explanations_from_json(tmp_path, content):
    path = tmp_path / "explanations.json"
    path.write_text(json.dumps(content))
    assert read_explanations(path) == EXPECTED_EXPLANATIONS


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_explanations_from_a_table_skip_missing_ones(tmp_path, suffix):
    table = pd.DataFrame({"latent": [3, 7, 9, 11], "explanation": ["the word 'no'", "apologies", "", None],
                          "score": [0.1, 0.2, 0.3, 0.4]})
    path = tmp_path / f"explanations{suffix}"
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path)
    assert read_explanations(path) == EXPECTED_EXPLANATIONS


@pytest.mark.parametrize("content", [[1, 2, 3], {"3": {"text": "x"}}, [{"latent": 3, "text": "x"}], "just text"])
def test_unknown_explanation_shapes_are_named(tmp_path, content):
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=r"odd\.json.*eval_result_unstructured"):
        read_explanations(path)


def test_explanation_table_without_its_columns_is_named(tmp_path):
    path = tmp_path / "odd.csv"
    pd.DataFrame({"feature": [1], "text": ["x"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"odd\.csv.*explanation"):
        read_explanations(path)


# --- read_preference_pairs ---------------------------------------------------

PAIRS = pd.DataFrame({"chosen": ["\n\nHuman: hi\n\nAssistant: hello", "a"],
                      "rejected": ["\n\nHuman: hi\n\nAssistant: go away", "b"]})


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet", ".csv"])
def test_preference_pairs_from_each_format(tmp_path, suffix):
    table = PAIRS.assign(extra=[1, 2])[["rejected", "extra", "chosen"]]  # other order, an extra column
    path = tmp_path / f"pairs{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in table.to_dict("records")) + "\n")
    elif suffix == ".json":
        path.write_text(json.dumps(table.to_dict("records")))
    elif suffix == ".parquet":
        table.to_parquet(path)
    else:
        table.to_csv(path, index=False)
    pairs = read_preference_pairs(path)
    assert list(pairs.columns) == ["chosen", "rejected"]
    pd.testing.assert_frame_equal(pairs, PAIRS)


def test_preference_pairs_missing_a_column_or_empty_are_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"chosen": "a", "response": "b"}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl.*chosen and rejected"):
        read_preference_pairs(path)
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(ValueError, match=r"empty\.json.*chosen and rejected"):
        read_preference_pairs(empty)
