"""Feature sensitivity: reply parsing, masking and the metric, on hand-made inputs."""

import numpy as np
import pytest

from saeprobe.interpret.windows import mask_special_tokens
from saeprobe.sensitivity.scoring import SEPARATOR, parse_samples, sensitivity


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
    # text_activations masks so; scored_texts takes each text's maximum (a masked position counts as 0).
    assert mask_special_tokens(acts, tokens, {0, 1}).max(axis=1, initial=0.0).tolist() == [0.3, 0.0]


def test_sensitivity_is_the_fraction_of_texts_that_fire():
    assert sensitivity(np.array([0.0, 1e-7, 2e-6, 3.0])) == 0.5
    assert sensitivity(np.array([1e-6])) == 0.0  # strictly above the threshold
    assert np.isnan(sensitivity(np.array([])))


def examples_table(latent, n_top, n_iw, peak=4.0):
    """A hand-made ``saeprobe.interpret.examples`` table of one latent: top
    window i peaks at ``peak - i/10`` on its centre token, IW ones at 0.5."""
    rows = []
    for kind, n, height in (("top", n_top, None), ("iw", n_iw, 0.5), ("random", 10, 0.0)):
        for rank in range(n):
            acts = [0.0] * 21
            acts[10] = peak - rank / 10 if kind == "top" else height
            rows.append({"latent": latent, "draw": 0, "firings": 40, "kind": kind, "rank": rank, "row": rank,
                         "centre": 10, "token_ids": list(range(21)), "tokens": [f" t{i}" for i in range(21)],
                         "acts": acts})
    import pandas as pd

    return pd.DataFrame(rows)


def test_ten_top_and_five_iw_windows_are_shown_strongest_first_and_marked():
    from saeprobe.sensitivity.generation import feature_examples

    shown = feature_examples(examples_table(7, 12, 7), seed=42)
    assert len(shown) == 15 and shown["feature_index"].eq(7).all()
    assert shown["Top_act"].is_monotonic_decreasing and (shown["Top_act"] == 0.5).sum() == 5
    # Only the centre token fires: marked alone, each token in its own braces.
    assert shown["Sequence"].str.count(r"\{\{").eq(1).all() and shown["Sequence"].str.contains(r"\{\{ t10\}\}").all()
    assert feature_examples(examples_table(7, 12, 7), seed=42).equals(shown)  # seeded
    assert not feature_examples(examples_table(7, 12, 7), seed=1)["Top_act"].equals(shown["Top_act"])


def test_a_latent_without_iw_windows_shows_its_top_ones_and_one_that_never_fires_is_left_out():
    import pandas as pd

    from saeprobe.sensitivity.generation import feature_examples

    table = pd.concat([examples_table(1, 12, 0), examples_table(2, 12, 7, peak=0.0)], ignore_index=True)
    shown = feature_examples(table, seed=0)
    assert shown["feature_index"].unique().tolist() == [1] and len(shown) == 10


class WordTokenizer:
    """Token ids by hand: word i is id i + 10; BOS 1, PAD 0."""

    bos_token_id, eos_token_id, pad_token_id = 1, 2, 0

    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [[int(w) + 10 for w in text.split()] for text in texts]}


def test_texts_open_with_bos_are_cut_to_the_limit_and_right_padded():
    from saeprobe.sensitivity.scoring import text_rows

    rows, lengths = text_rows(WordTokenizer(), ["1 2 3", "4", " ".join(["5"] * 200)])
    assert lengths.tolist() == [4, 2, 128] and rows.shape == (3, 128)
    assert rows[0, :5].tolist() == [1, 11, 12, 13, 0] and rows[1, :3].tolist() == [1, 14, 0]
    assert (rows[:, 0] == 1).all() and (rows[1, 2:] == 0).all()


class HiddenIsTokenId:
    """An extractor whose residual at a token is a one-hot of its id (width 64)."""

    def token_row_activations(self, rows, dtype, attention_mask):
        hidden = np.eye(64, dtype=dtype)[rows] * 3.0
        return {5: hidden}


def test_each_text_is_scored_on_its_own_latent_with_bos_and_pad_left_out():
    import torch

    from saeprobe.sensitivity.scoring import text_activations, text_rows

    class Rectifier:
        def encode(self, x):
            return torch.relu(x)

    rows, lengths = text_rows(WordTokenizer(), ["1 2", "1", "3"])
    # Latent i fires on id i: text 0 on id 11 (word 1), text 1 on BOS's id only, text 2 on PAD's only.
    acts = text_activations(HiddenIsTokenId(), Rectifier(), 5, rows, lengths, np.array([11, 1, 0]), {0, 1},
                            batch_texts=2)
    assert [a.tolist() for a in acts] == [[0.0, 3.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    assert sensitivity(np.array([a.max() for a in acts])) == pytest.approx(1 / 3)


def test_feature_stats_join_the_generated_and_the_shown_texts():
    import pandas as pd

    from saeprobe.sensitivity.scoring import feature_stats

    generated = pd.DataFrame({"feature_index": [3, 3, 3, 3], "max_activation": [0.0, 1.0, 2.0, 0.0]})
    original = pd.DataFrame({"feature_index": [3, 3, 9], "max_activation": [1.0, 1.0, 0.0]})
    stats = feature_stats(generated, original)
    assert stats["feature_index"].tolist() == [3, 9]
    assert stats["generated_sensitivity"].iloc[0] == 0.5 and np.isnan(stats["generated_sensitivity"].iloc[1])
    assert stats["original_sensitivity"].tolist() == [1.0, 0.0]
