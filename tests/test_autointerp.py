"""Autointerp replies and the detection score, on hand-written replies."""

import json

import numpy as np
import pytest

from saeprobe.autointerp.detection import detection_score, parse_explanation, parse_predictions
from saeprobe.llm.prompts import DETECTION_VERSION, detection_request, explanation_request


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
    from saeprobe.llm.prompts import description_request, ranking_request

    describe = description_request(12, [(3.14159, "text one"), (1.0, "text two")])
    assert describe.max_tokens == 150 and "Latent 12." in describe.user and "  [3.142] text one" in describe.user
    rank = ranking_request("is the person a politician", "the prompts' wording is changed",
                           [(5, "names of senators"), (9, "capital letters")])
    assert rank.max_tokens == 24 and "  2. (latent 9) capital letters" in rank.user  # room for 2 numbers and more
    assert ranking_request("t", "s", [(i, "d") for i in range(100)]).max_tokens == 200  # kurexi's cap
    assert '{"ranking": [2, 1]}' in rank.user and "the prompts' wording is changed" in rank.user


# -- scoring an SAE's latents, with a scripted explainer
class ScriptedProvider:
    """Explains every latent alike; in detection, names the sequences whose text holds "hot"."""

    name = "scripted:test"
    concurrent = False

    def __init__(self, detection_reply=None):
        self.requests = []
        self.detection_reply = detection_reply

    def complete(self, request):
        from saeprobe.llm import LLMReply

        self.requests.append(request)
        if request.prompt == DETECTION_VERSION:
            sequences = [line.split(". ", 1) for line in request.user.split("\n") if line[:1].isdigit()]
            text = self.detection_reply or ", ".join(n for n, seq in sequences if "hot" in seq)
        else:
            text = "This neuron activates on the word hot."
        return LLMReply(text, self.name, 10, 5)


def hand_made_examples(latent=7, n_top=12, n_iw=7, n_random=10):
    """Top windows end in an active "hot", IW windows in a weak one, random ones are silent."""
    rows = []
    for kind, count, act in (("top", n_top, 5.0), ("iw", n_iw, 0.5), ("random", n_random, 0.0)):
        for rank in range(count):
            tokens = [f" {kind}{rank}"] * 20 + [" hot" if act else " cold"]
            rows.append({"latent": latent, "firings": 99, "kind": kind, "rank": rank, "row": rank, "centre": 10,
                         "token_ids": list(range(21)), "tokens": tokens,
                         "acts": [0.0] * 20 + [act + (count - rank) * 0.01 if act else 0.0]})
    import pandas as pd

    return pd.DataFrame(rows)


def test_latents_are_explained_from_marked_windows_and_scored_on_unmarked_ones(tmp_path):
    from saeprobe.autointerp.detection import score_latents
    from saeprobe.llm import Explainer, ResponseCache

    provider = ScriptedProvider()
    scores = score_latents(hand_made_examples(), Explainer(provider, ResponseCache(tmp_path)), seed=3)
    explanation, detection = provider.requests
    shown = [line.split(". ", 1)[1] for line in explanation.user.split("\n") if line[:1].isdigit()]
    assert len(shown) == 15 and sum("top" in s for s in shown) == 10 and all("<< hot>>" in s for s in shown)
    assert all("top" in s for s in shown[:10])  # strongest first
    sequences = [line.split(". ", 1)[1] for line in detection.user.split("\n") if line[:1].isdigit()]
    assert len(sequences) == 14 and not any("<<" in s for s in sequences)
    assert sum("top" in s for s in sequences) == 2 and sum("iw" in s for s in sequences) == 2
    assert "The neuron responds to the word hot." in detection.user
    row = scores.iloc[0]
    assert row["explanation"] == "the word hot" and row["explainer"] == "scripted:test" and row["skipped"] == ""
    assert row["score"] == 1.0 and row["random_active"] == 0  # the four "hot" windows, and only they
    assert row["active_sequences"] == row["predictions"]


def test_latents_that_cannot_be_scored_say_why(tmp_path):
    import pandas as pd

    from saeprobe.autointerp.detection import sae_scores, score_latents
    from saeprobe.llm import Explainer, ResponseCache

    examples = pd.concat([hand_made_examples(latent=1), hand_made_examples(latent=2, n_iw=2)])
    provider = ScriptedProvider(detection_reply="I think the third one.")
    scores = score_latents(examples, Explainer(provider, ResponseCache(tmp_path)), seed=0).set_index("latent")
    assert np.isnan(scores.loc[1, "score"]) and "names no sequence numbers" in scores.loc[1, "skipped"]
    assert np.isnan(scores.loc[2, "score"]) and "2 importance-weighted windows" in scores.loc[2, "skipped"]
    assert len(provider.requests) == 2  # latent 2 costs no call
    summary = sae_scores(scores.reset_index().assign(sae="s", architecture="topk"))
    assert summary[["latents_scored", "latents_skipped"]].values.tolist() == [[0, 2]]


class RankingProvider(ScriptedProvider):
    """Describes every latent alike and ranks the candidates in reverse."""

    def complete(self, request):
        from saeprobe.llm.prompts import RANKING_VERSION
        from saeprobe.llm import LLMReply

        self.requests.append(request)
        if request.prompt == RANKING_VERSION:
            n = request.user.count("(latent ")
            return LLMReply(json.dumps({"ranking": list(range(n, 0, -1))}), self.name, 10, 5)
        return LLMReply("It encodes the class.", self.name, 10, 5)


def test_dataset_analyses_describe_the_top_and_best_latents_and_prune_ood(tmp_path):
    import scipy.sparse as sp

    from saeprobe.autointerp.descriptions import dataset_latent_analyses
    from saeprobe.llm import Explainer, ResponseCache

    rng = np.random.default_rng(0)
    labels = np.tile([0, 1], 150)
    X = rng.random((300, 6)) * (rng.random((300, 6)) < 0.3)
    X[:, 2] = labels * 3.0 + rng.random(300)   # the class itself: first by mean difference
    X[:, 4] = labels * 1.0 + rng.random(300) * 2  # weaker
    X[6, 2] = 20.0                               # a strong activation on a negative row: a label to audit
    X_ood = rng.random((100, 6))
    labels_ood = np.tile([0, 1], 50)
    X_ood[:, 2] = labels_ood * 3.0
    provider = RankingProvider()
    out = dataset_latent_analyses(sp.csr_matrix(X), labels, [f"text {i}." for i in range(300)],
                                  Explainer(provider, ResponseCache(tmp_path)), top_latents=2, candidates=6,
                                  ood=(sp.csr_matrix(X_ood), labels_ood), ood_task=("task", "shift"), audit=True)
    descriptions = out["descriptions"]
    assert descriptions["latent"].tolist()[:2] == [2, 4] and descriptions["rank"].tolist()[:2] == [1, 2]
    assert descriptions.loc[0, "test_auc"] > 0.99 and descriptions.loc[0, "ood_auc"] > 0.99
    assert (descriptions["role"] == "top").all()  # the best single latent is the top one: described once
    pruning = out["ood_pruning"]
    assert pruning[pruning["order"] == "explainer"]["latents"].tolist() == ["4", "4 2"]
    assert pruning[pruning["order"] == "probe"]["latents"].tolist() == ["2", "2 4"]
    audit = out["audit"]
    assert audit[audit["kind"] == "disagreement"]["row"].tolist() == [6]
    assert audit[audit["kind"] == "last_character"]["character"].unique().tolist() == ["."]
    assert [r.prompt for r in provider.requests] == ["description@1"] * 2 + ["ranking@1"]
