"""The autointerp stages end to end on the tiny model, explained by the real
``anthropic`` client talking to a stand-in Messages API on 127.0.0.1."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from fake_messages_api import FakeMessagesAPI
from workflow_helpers import job_counts, make_small_workdir, small_config, snakemake

pytestmark = pytest.mark.slow

FIGURE = "results/tiny/figures/autointerp_scores.png"


def autointerp_config(model_dir):
    config = small_config(model_dir, sae_steps=40)
    config["datasets"]["reference"] = ["87_glue_cola"]  # a dataset with an OOD set
    config["autointerp"] = {"enabled": True, "latents": 3, "corpus": {"rows": 24, "context": 64},
                            "descriptions": {"datasets": ["words_a", "87_glue_cola"], "top_latents": 2,
                                             "candidates": 4, "audit_datasets": ["87_glue_cola"]},
                            "explainer": {"provider": "claude", "model": "claude-test", "max_retries": 0}}
    return config


def answer(body):
    """An explainer that always says the same, calls every third sequence
    active, and ranks candidates in reverse."""
    user = body["messages"][0]["content"]
    if "numbered sequences" in body["system"]:
        n = len(re.findall(r"^\d+\. ", user, flags=re.M))
        return ", ".join(str(i) for i in range(1, n + 1, 3))
    if "shift of distribution" in body["system"]:
        n = len(re.findall(r"^  \d+\. \(latent", user, flags=re.M))
        return json.dumps({"ranking": list(range(n, 0, -1))})
    if "sparse autoencoders" in body["system"]:
        return "It encodes words of the w-series."
    return "This neuron activates on words of the w-series."


def test_autointerp_explains_and_scores_latents_and_pays_for_each_reply_once(tmp_path, tiny_model_dir, monkeypatch):
    workdir = make_small_workdir(tmp_path, autointerp_config(tiny_model_dir))
    with FakeMessagesAPI(reply=answer) as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        counts = job_counts(workdir, FIGURE)
        assert counts["interpret_corpus"] == 1 and counts["autointerp_detection"] == 1
        assert "probe_sae" not in counts and "probe_baselines" not in counts  # only what the figure needs
        snakemake(workdir, FIGURE)
        calls = len(api.requests)

        latents = pd.read_parquet(workdir / "results/tiny/tables/autointerp.parquet")
        assert len(latents) == 3 and latents["sae"].unique().tolist() == ["topk-w64-k4"]
        assert (latents["explainer"] == "claude:claude-test").all()
        assert (latents["firings"] > 15).all()
        # On so small a corpus a latent may fire too rarely away from row ends
        # to give its windows (which ones differs between machines): it is
        # kept, with the reason, and costs no call.
        scored = latents[latents["skipped"] == ""]
        assert len(scored) >= 1 and latents["score"].notna().tolist() == (latents["skipped"] == "").tolist()
        assert latents.loc[latents["skipped"] != "", "skipped"].str.contains("importance-weighted windows").all()
        assert (scored["explanation"] == "words of the w-series").all() and scored["score"].between(0, 1).all()
        # Each scored latent: one explanation call and one detection call, over 14 sequences.
        assert calls == 2 * len(scored)
        detection = [r for r in api.requests if "numbered sequences" in r["system"]]
        explaining = [r for r in api.requests if "activates on" in r["system"]]
        assert len(detection) == len(explaining) == len(scored)
        assert all(len(re.findall(r"^\d+\. ", r["messages"][0]["content"], flags=re.M)) == 14 for r in detection)
        assert all("<<" in r["messages"][0]["content"] for r in explaining)
        assert all(r["model"] == "claude-test" for r in api.requests)
        scores = pd.read_csv(workdir / "results/tiny/tables/autointerp_scores.csv")
        assert scores["latents_scored"].tolist() == [len(scored)]
        assert scores["latents_skipped"].tolist() == [len(latents) - len(scored)]
        assert scores["autointerp_score"].iloc[0] == pytest.approx(scored["score"].mean())
        assert (workdir / FIGURE).stat().st_size > 10_000

        # The outputs gone, the replies are not: the rerun makes no call and writes the same table.
        shutil.rmtree(workdir / "results/tiny/autointerp")
        for output in ("tables/autointerp.parquet", "tables/autointerp.csv", "tables/autointerp_scores.csv",
                       "figures/autointerp_scores.png"):
            (workdir / "results/tiny" / output).unlink()
        snakemake(workdir, FIGURE)
        assert len(api.requests) == calls
        pd.testing.assert_frame_equal(pd.read_parquet(workdir / "results/tiny/tables/autointerp.parquet"), latents)


def test_per_dataset_analyses_describe_rank_and_audit(tmp_path, tiny_model_dir, monkeypatch):
    workdir = make_small_workdir(tmp_path, autointerp_config(tiny_model_dir))
    analyses = ("descriptions", "ood_pruning", "audit")
    tables = [f"results/tiny/tables/autointerp_{a}.csv" for a in analyses]
    figures = [f"results/tiny/figures/autointerp_{a}.png" for a in analyses]
    with FakeMessagesAPI(reply=answer) as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        snakemake(workdir, *tables, *figures)
    descriptions, pruning, audit = (pd.read_csv(workdir / t) for t in tables)
    assert set(descriptions["dataset"]) == {"words_a", "87_glue_cola"}
    for _, rows in descriptions.groupby("dataset"):
        assert rows.loc[rows["role"] == "top", "rank"].tolist() == [1, 2]
        assert rows["role"].isin(["top", "best_single"]).all() and rows["test_auc"].between(0, 1).all()
        best = rows["test_auc"].idxmax()
        assert rows.loc[best, "test_auc"] >= rows["test_auc"].max()  # the best single latent is described
    assert (descriptions["description"] == "It encodes words of the w-series.").all()
    # Only the dataset with an OOD set is pruned: each order's top-n, n = 1, 2, scored out of distribution.
    assert set(pruning["dataset"]) == {"87_glue_cola"} and pruning["ranking_parsed"].all()
    assert pruning.groupby("order")["n"].apply(list).to_dict() == {"explainer": [1, 2], "probe": [1, 2]}
    probe_order = pruning[pruning["order"] == "probe"]["latents"].iloc[-1].split()
    assert pruning[pruning["order"] == "explainer"]["latents"].iloc[-1].split() == probe_order[::-1]
    assert pruning["ood_auc"].between(0, 1).all()
    ranking = [r for r in api.requests if "shift of distribution" in r["system"]]
    assert len(ranking) == 1 and "Is the sentence grammatical English?" in ranking[0]["messages"][0]["content"]
    # The audit: strong activations on the other class, and last characters by label.
    assert set(audit["dataset"]) == {"87_glue_cola"} and set(audit["kind"]) <= {"disagreement", "last_character"}
    assert (audit["kind"] == "last_character").any()
    assert all((workdir / figure).stat().st_size > 10_000 for figure in figures)


def test_the_claude_explainer_without_a_key_stops_before_any_job(tmp_path, tiny_model_dir, monkeypatch):
    workdir = make_small_workdir(tmp_path, autointerp_config(tiny_model_dir))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    result = snakemake(workdir, FIGURE, check=False)
    assert result.returncode != 0
    assert "needs ANTHROPIC_API_KEY, which is not set" in result.stdout + result.stderr
    assert "offline explainer" in result.stdout + result.stderr
    assert not (workdir / "resources").exists()
    # A dry run plans the same jobs without the key, and says it is missing.
    dry = snakemake(workdir, "-n", FIGURE)
    assert "ANTHROPIC_API_KEY is not set" in dry.stdout and "autointerp_detection" in dry.stdout


def test_the_offline_explainer_runs_the_same_stages_with_no_key(tmp_path, tiny_model_dir, monkeypatch):
    from transformers import AutoTokenizer

    chat_model = tmp_path / "chat_model"  # the tiny model, given a chat template
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    tokenizer.save_pretrained(chat_model)
    for name in ("config.json", "model.safetensors"):
        (chat_model / name).write_bytes((tiny_model_dir / name).read_bytes())
    config = autointerp_config(chat_model)
    config["autointerp"]["explainer"] = {"provider": "offline", "model": "tiny"}
    config["sensitivity"] = {"enabled": True, "features": 2, "reply_tokens": 40}
    workdir = make_small_workdir(tmp_path / "run", config)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    snakemake(workdir, FIGURE, "results/tiny/figures/sensitivity.png")
    latents = pd.read_parquet(workdir / "results/tiny/tables/autointerp.parquet")
    assert len(latents) == 3 and (latents["explainer"] == "offline:tiny").all()
    # Held to digits by constrained decoding, the tiny model's word vocabulary
    # can only end its reply at once: no sequence predicted, still a score.
    scored = latents[latents["skipped"] == ""]
    assert len(scored) >= 1 and (scored["predictions"] == "").all() and scored["score"].between(0, 1).all()
    # Sensitivity asks the same explainer for its texts, one call per latent shown.
    queries = pd.read_csv(workdir / "results/tiny/sensitivity/topk-w64-k4/generation_queries_with_responses.csv")
    assert 1 <= len(queries) <= 2 and (queries["explainer"] == "offline:tiny").all()
    assert set(queries["feature_index"]) <= set(latents["latent"])  # the first of autointerp's draw
    sensitivity = pd.read_parquet(workdir / "results/tiny/tables/sensitivity.parquet")
    assert (sensitivity["explainer"] == "offline:tiny").all()
    assert len(list((workdir / "resources/llm_cache").rglob("*.json"))) == 2 * len(scored) + len(queries)


def test_an_offline_explainer_without_a_chat_template_is_refused_before_any_job(tmp_path, tiny_model_dir):
    config = autointerp_config(tiny_model_dir)
    config["autointerp"]["explainer"] = {"provider": "offline"}
    workdir = make_small_workdir(tmp_path, config)
    result = snakemake(workdir, "-n", FIGURE, check=False)
    assert result.returncode != 0
    assert "autointerp.explainer.model: the offline explainer 'tiny' has no chat template" in result.stdout
