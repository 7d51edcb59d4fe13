"""Feature sensitivity: reply parsing, masking and the metric, on hand-made inputs."""

import numpy as np
import pytest

from saeprobe.sensitivity.scoring import SEPARATOR, masked_max_activations, parse_samples, sensitivity


def reply(n, separator=SEPARATOR):
    return f"\n{separator}\n".join(f"sample {i}" for i in range(n))


@pytest.mark.parametrize("n, kept", [(3, 3), (9, 9), (10, 10), (11, 10), (12, 12)])
def test_samples_are_the_first_ten_when_about_ten_came(n, kept):
    samples = parse_samples(reply(n))
    assert samples == [f"sample {i}" for i in range(kept)]


def test_samples_without_separators_split_on_blank_lines():
    assert parse_samples("one\n\ntwo\n\n\n\nthree") == ["one", "two", "three"]
    assert parse_samples(f"a{SEPARATOR}  {SEPARATOR}b") == ["a", "b"]  # blank pieces dropped


def test_bos_and_pad_positions_never_count():
    tokens = np.array([[1, 7, 8, 0], [1, 9, 0, 0]])  # BOS 1, PAD 0
    acts = np.array([[5.0, 0.0, 0.3, 9.0], [5.0, 0.0, 4.0, 4.0]])
    assert masked_max_activations(acts, tokens, {0, 1}).tolist() == [0.3, 0.0]


def test_sensitivity_is_the_fraction_of_texts_that_fire():
    assert sensitivity(np.array([0.0, 1e-7, 2e-6, 3.0])) == 0.5
    assert sensitivity(np.array([1e-6])) == 0.0  # strictly above the threshold
    assert np.isnan(sensitivity(np.array([])))
