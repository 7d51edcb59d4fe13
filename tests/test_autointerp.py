"""Autointerp replies and the detection score, on hand-written replies."""

import numpy as np
import pytest

from saeprobe.autointerp.detection import detection_score, parse_explanation, parse_predictions
from saeprobe.autointerp.prompts import DETECTION_VERSION, detection_request, explanation_request


@pytest.mark.parametrize("reply, expected", [
    ("This neuron activates on dates in news articles.", "dates in news articles"),
    ("  This neuron activates on the word 'over'  ", "the word 'over'"),
    ("It activates on X, then activates on Y.", "Y"),
    ("numbers", "numbers"),  # no lead-in: the reply itself
])
def test_explanations_are_read_after_the_last_lead_in(reply, expected):
    assert parse_explanation(reply) == expected


@pytest.mark.parametrize("reply, expected", [
    ("2, 5, 9", [2, 5, 9]),
    ("2, 5 and 9.", [2, 5, 9]),
    ("None", []),
    ("None.", []),
    ("", []),
    ("14", [14]),
    ("2, five, 9", None),
    ("The answer is 2, 5", None),
    ("1-3", None),
])
def test_detection_replies_are_read_or_refused(reply, expected):
    assert parse_predictions(reply) == expected


def test_the_detection_score_counts_positives_and_negatives():
    active = np.array([True, False, False, True] + [False] * 10)
    assert detection_score([1, 4], active) == 1.0
    assert detection_score([], active) == pytest.approx(12 / 14)
    assert detection_score([1, 2, 3], active) == pytest.approx(11 / 14)  # one miss, two false alarms
    assert detection_score(list(range(1, 15)), active) == pytest.approx(2 / 14)
    assert detection_score([99], active) == pytest.approx(12 / 14)  # a number with no sequence changes nothing


def test_requests_are_versioned_and_sized_as_the_reference_sizes_them():
    explain = explanation_request(["a <<b>> c", "d <<e>>"])
    assert explain.max_tokens == 30 and explain.user.endswith("1. a <<b>> c\n2. d <<e>>")
    detect = detection_request("dates", [f"sequence {i}" for i in range(14)], seed=3)
    assert detect.prompt == DETECTION_VERSION and detect.max_tokens == 33
    assert "14 numbered sequences" in detect.system and "The neuron responds to dates." in detect.user
    # The example answer changes with the seed, and so does the request's cache key.
    assert detection_request("dates", ["x"] * 14, seed=4).cache_key("e") != detection_request(
        "dates", ["x"] * 14, seed=3).cache_key("e")


def test_top_prompts_are_the_strongest_cut_to_300_characters():
    from saeprobe.autointerp.descriptions import top_prompts

    texts = ["a", "b" * 400, "c", "d"]
    examples = top_prompts(np.array([0.1, 3.0, 2.0, 2.0]), texts, n=3)
    assert [t[:1] for _, t in examples] == ["b", "c", "d"] and len(examples[0][1]) == 300
    assert [a for a, _ in examples] == [3.0, 2.0, 2.0]


@pytest.mark.parametrize("reply, expected", [
    ('{"ranking": [3, 1, 2]}', [2, 0, 1]),
    ('Here you go: {"ranking": [2, 3, 1]} as asked', [1, 2, 0]),
    ('{"ranking": [1, 2]}', None),        # a candidate left out
    ('{"ranking": [1, 1, 2]}', None),     # one named twice
    ('{"ranking": [1, 2, 4]}', None),     # no such candidate
    ('{"ranking": "1, 2, 3"}', None),
    ("1, 2, 3", None),
    ('{"ranking": [1, 2, 3}', None),
])
def test_rankings_are_read_only_when_they_order_every_candidate(reply, expected):
    from saeprobe.autointerp.descriptions import parse_ranking

    assert parse_ranking(reply, 3) == expected


def test_disagreements_are_strong_activations_under_the_other_label():
    from saeprobe.autointerp.descriptions import disagreements

    acts = np.array([9.0, 8.0, 7.0, 0.1, 0.2, 6.5, 0.0, 0.3, 0.1, 0.2])
    labels = np.array([1, 1, 0, 0, 0, 1, 0, 0, 1, 0])  # the latent favours class 1
    assert disagreements(acts, labels, quantile=0.7).tolist() == [2]


def test_description_and_ranking_requests():
    from saeprobe.autointerp.prompts import description_request, ranking_request

    describe = description_request(12, [(3.14159, "text one"), (1.0, "text two")])
    assert describe.max_tokens == 150 and "Latent 12." in describe.user and "  [3.142] text one" in describe.user
    rank = ranking_request("is the person a politician", "the prompts' wording is changed",
                           [(5, "names of senators"), (9, "capital letters")])
    assert rank.max_tokens == 200 and "  2. (latent 9) capital letters" in rank.user
    assert '{"ranking": [2, 1]}' in rank.user and "the prompts' wording is changed" in rank.user
