"""The feature-sensitivity stages end to end on the tiny model, the texts
written through the real ``anthropic`` client by a stand-in Messages API on
127.0.0.1; and the reference's own runs planned from the seed config."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from fake_messages_api import FakeMessagesAPI
from workflow_helpers import REPO, job_counts, make_small_workdir, small_config, snakemake

pytestmark = pytest.mark.slow

SEPARATOR = "<SAMPLE_SEPARATOR/>"
FIGURE = "results/tiny/figures/sensitivity.png"
COLUMNS = {
    "feature_examples": ["feature_index", "Top_act", "Sequence"],
    "generated_samples": ["feature_index", "sample_index", "text"],
    "generation_queries_with_responses": ["sae_name", "eval_name", "feature_index", "system_prompt", "user_prompt",
                                          "separator", "num_per_call", "llm_response", "status"],
    "generated_samples_with_activations": ["feature_index", "sample_index", "text_annotated", "text_clean",
                                           "tokenized_text", "max_activation", "all_activations"],
    "original_examples_with_activations": ["feature_index", "Top_act", "text_annotated", "text_clean",
                                           "tokenized_text", "max_activation", "all_activations"],
    "feature_stats": ["feature_index", "generated_sensitivity", "original_sensitivity"],
}


def sensitivity_config(model_dir):
    config = small_config(model_dir, sae_steps=40)
    config["autointerp"] = {"enabled": False, "corpus": {"rows": 24, "context": 64},
                            "explainer": {"provider": "claude", "model": "claude-test", "max_retries": 0}}
    config["sensitivity"] = {"enabled": True, "features": 3, "reply_tokens": 500}
    return config


def shown_windows(body) -> list[str]:
    return body["messages"][0]["content"].split("with <SAMPLE_SEPARATOR/> between each two:\n\n", 1)[1].split(
        f"\n{SEPARATOR}\n")


def copy_the_windows(body):
    """A writer that hands back the shown windows, marks and all, as its 11 samples."""
    windows = shown_windows(body)
    return f"\n{SEPARATOR}\n".join((windows * 11)[:11])


def test_sensitivity_generates_rescores_and_pays_for_each_reply_once(tmp_path, tiny_model_dir, monkeypatch):
    workdir = make_small_workdir(tmp_path, sensitivity_config(tiny_model_dir))
    with FakeMessagesAPI(reply=copy_the_windows) as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        counts = job_counts(workdir, FIGURE)
        assert counts["interpret_corpus"] == 1 and counts["sensitivity_generate"] == counts["sensitivity_score"] == 1
        assert "autointerp_detection" not in counts and "probe_sae" not in counts  # only what the figure needs
        snakemake(workdir, FIGURE)
        calls = len(api.requests)

        folder = workdir / "results/tiny/sensitivity/topk-w64-k4"
        files = {name: pd.read_csv(folder / f"{name}.csv") for name in COLUMNS}
        for name, columns in COLUMNS.items():
            assert files[name].columns[:len(columns)].tolist() == columns, name
        shown = files["feature_examples"]
        latents = sorted(shown["feature_index"].unique())
        assert 1 <= len(latents) <= 3 and calls == len(latents)  # one call per shown latent
        # 15 windows a latent (10 top, 5 IW), strongest first, marked as the reference marks them.
        for latent, rows in shown.groupby("feature_index"):
            assert len(rows) in (10, 15) and rows["Top_act"].is_monotonic_decreasing
            assert rows["Sequence"].str.contains(r"\{\{").any()
        assert all(shown_windows(r) for r in api.requests) and all(r["model"] == "claude-test" for r in api.requests)
        assert all("exactly 11 new samples" in r["messages"][0]["content"] for r in api.requests)
        # Eleven came back, ten were kept.
        generated = files["generated_samples_with_activations"]
        assert generated.groupby("feature_index").size().tolist() == [10] * len(latents)
        assert (files["generation_queries_with_responses"]["status"] == "Success with claude:claude-test").all()
        # The samples are the shown windows, so each scores as its window scored: one path scores both.
        original = files["original_examples_with_activations"]
        pairs = generated.merge(original, on=["feature_index", "text_annotated"], suffixes=("_generated", "_shown"))
        assert len(pairs) >= len(generated)
        assert (pairs["max_activation_generated"] == pairs["max_activation_shown"]).all()
        assert not generated["text_clean"].str.contains(r"\{\{|\}\}|↵").any()
        # A window's first token is BOS, left out: every all_activations entry but BOS's is a real token's.
        tokens = generated["tokenized_text"].map(lambda t: len(t.strip("[]").split(",")))
        activations = generated["all_activations"].map(lambda a: len(a.strip("[]").split(",")))
        assert (tokens == activations).all() and (tokens <= 128).all()
        stats = files["feature_stats"]
        assert stats["feature_index"].tolist() == latents
        # (The tiny word-level tokenizer does not read a window back as its tokens, so no
        # claim on the original sensitivity here; the README quotes it for SmolLM2.)
        assert stats[["generated_sensitivity", "original_sensitivity"]].stack().between(0, 1).all()

        table = pd.read_parquet(workdir / "results/tiny/tables/sensitivity.parquet")
        assert table["sae"].unique().tolist() == ["topk-w64-k4"] and (table["architecture"] == "topk").all()
        assert (table["explainer"] == "claude:claude-test").all()
        scores = pd.read_csv(workdir / "results/tiny/tables/sensitivity_scores.csv")
        assert scores["latents_scored"].tolist() == [len(latents)]
        assert scores["generated_sensitivity"].iloc[0] == pytest.approx(stats["generated_sensitivity"].mean())
        assert (workdir / FIGURE).stat().st_size > 10_000

        # The outputs gone, the replies are not: the rerun makes no call and writes the same table.
        shutil.rmtree(workdir / "results/tiny/sensitivity")
        for output in ("tables/sensitivity.parquet", "tables/sensitivity.csv", "tables/sensitivity_scores.csv",
                       "figures/sensitivity.png"):
            (workdir / "results/tiny" / output).unlink()
        snakemake(workdir, FIGURE)
        assert len(api.requests) == calls
        pd.testing.assert_frame_equal(pd.read_parquet(workdir / "results/tiny/tables/sensitivity.parquet"), table)


def test_the_claude_writer_without_a_key_stops_before_any_job(tmp_path, tiny_model_dir, monkeypatch):
    workdir = make_small_workdir(tmp_path, sensitivity_config(tiny_model_dir))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    result = snakemake(workdir, FIGURE, check=False)
    assert result.returncode != 0 and "needs ANTHROPIC_API_KEY, which is not set" in result.stdout + result.stderr
    assert not (workdir / "resources").exists()


def test_the_reference_seed_dag_builds_without_the_models_or_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    counts = job_counts(tmp_path, "all_results", "--configfile", str(REPO / "config/seeds/sae-sensitivity.yaml"))
    assert counts["sae_import"] == counts["sensitivity_generate"] == counts["sensitivity_score"] == 11
    assert counts["interpret_corpus"] == 2 and counts["sensitivity_table"] == 2 and counts["figure_sensitivity"] == 2
    assert "sae_train" not in counts and "autointerp_detection" not in counts
