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
