"""The temporal-SAE stages end to end on the tiny model: a sequence corpus, a
temporal SAE trained on its pairs beside a TopK SAE, their smoothness, chunk
probing, t-SNE maps and the alignment study on pairs this test writes; and
the reference's own runs planned from the seed config."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workflow_helpers import REPO, job_counts, make_small_workdir, small_config, snakemake

pytestmark = pytest.mark.slow

TEMPORAL_SAE = {"name": "tsae-w64-k4", "layer": 2, "architecture": "temporal_matryoshka_batchtopk", "width": 64,
                "k": 4, "batch_size": 64, "steps": 40, "lr": 0.003, "dead_tokens": 2000, "checkpoint_every": 20,
                "threshold_beta": 0.9}
TARGETS = [f"results/tiny/figures/{name}.png" for name in ("smoothness", "chunk_probing", "tsne_tsae-w64-k4")] + [
    "results/tiny/tables/alignment.csv"]


def temporal_config(model_dir):
    config = small_config(model_dir, sae_steps=40)
    config["models"]["tiny"]["saes"].append(TEMPORAL_SAE)
    config["probes"]["saes"] = ["topk-w64-k4"]
    config["temporal"] = {
        "enabled": True, "saes": ["tsae-w64-k4", "topk-w64-k4"],
        "corpus": {"length": 16, "train_rows": 24, "heldout_rows": 8},
        "chunk_probing": {"vectors": 200, "context_rows": 8, "context_tokens": 5, "tsne_points": 60},
        "alignment": {"pairs": "pairs.jsonl", "n_pairs": 12, "max_length": 32, "top": 5},
    }
    return config


def write_pairs(path):
    """Dialogues sharing their prompt; each rejected reply is one to three words longer than the chosen one."""
    rows = []
    for i in range(14):
        prompt = f"human w{600 + i} w{601 + i} assistant"
        extra = " ".join(["w900", "w901", "w902"][:1 + i % 3])
        rows.append({"chosen": f"{prompt} w{700 + i} w{720 + i}", "rejected": f"{prompt} w{800 + i} w{820 + i} {extra}"})
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)


def test_temporal_stages_end_to_end(tmp_path, tiny_model_dir):
    workdir = make_small_workdir(tmp_path, temporal_config(tiny_model_dir))
    write_pairs(workdir / "pairs.jsonl")
    counts = job_counts(workdir, *TARGETS)
    assert counts["sequence_corpus"] == 2 and counts["sae_train"] == 2 and counts["chunk_probe"] == 3
    assert "probe_sae" not in counts  # only what the figures and the table need
    snakemake(workdir, *TARGETS)

    training_log = (workdir / "logs/tiny/saes/tsae-w64-k4.log").read_text()
    assert "sequence corpus: " in training_log and "pairs: r" in training_log
    assert json.loads((workdir / "results/tiny/saes/tsae-w64-k4/metrics.json").read_text())["corpus"] == "sequences"
    saved = json.loads((workdir / "results/tiny/saes/tsae-w64-k4/cfg.json").read_text())
    assert (saved["temporal_term"], saved["pair_mode"], saved["group_weights"]) == ("similarity_l1", "r", [0.2, 0.8])

    smoothness = pd.read_csv(workdir / "results/tiny/tables/smoothness.csv").set_index("sae")
    assert set(smoothness.index) == {"tsae-w64-k4", "topk-w64-k4"}
    assert smoothness.loc["tsae-w64-k4", "high_latents"] == 12  # 20% of 64
    assert smoothness.loc["tsae-w64-k4", ["smoothness_tv_h", "smoothness_tv_l", "fft_tot"]].notna().all()
    assert pd.isna(smoothness.loc["topk-w64-k4", "smoothness_tv_h"])  # no groups: all latents only
    assert (smoothness["sequences"] + smoothness["sequences_left_out"] == 8).all()

    chunks = pd.read_csv(workdir / "results/tiny/tables/chunk_probing.csv", keep_default_na=False)
    by_sae = chunks.groupby("sae")["representation"].agg(set).to_dict()
    assert by_sae == {"": {"residual"}, "tsae-w64-k4": {"high", "low", "all"}, "topk-w64-k4": {"all"}}
    tagged = json.loads((workdir / "results/part_of_speech.json").read_text())
    tasks = {"semantics", "context"} | ({"syntax"} if tagged["tagger"] else set())
    assert set(chunks["task"]) == tasks
    semantics = chunks[chunks["task"] == "semantics"]
    assert (semantics["n_classes"] == 2).all() and semantics["test_accuracy"].between(0, 1).all()
    assert (chunks.loc[chunks["task"] == "context", "n_classes"] <= 8).all()

    features = pd.read_csv(workdir / "results/tiny/tables/alignment.csv")
    assert features.groupby("sae").size().to_dict() == {"tsae-w64-k4": 5, "topk-w64-k4": 5}
    temporal = features[features["sae"] == "tsae-w64-k4"]
    assert temporal["latent"].between(0, 11).all()  # the high-level group only
    assert temporal["abs_diff"].is_monotonic_decreasing and temporal["length_r"].between(-1, 1).all()
    lengths = json.loads((workdir / "results/tiny/temporal/tsae-w64-k4/alignment.json").read_text())
    assert lengths["pairs_read"] == 12 and lengths["pairs"] == 12
    # Chosen replies are 2 words, rejected ones 3 to 5 (12 pairs: 4 of each).
    assert (lengths["mean_chosen_tokens"], lengths["mean_rejected_tokens"]) == (2.0, 4.0)
    assert lengths["p_value"] < 1e-3

    assert "Nothing to be done" in snakemake(workdir, "-n", *TARGETS).stdout


def test_the_reference_seed_dag_builds_without_the_models(tmp_path):
    counts = job_counts(tmp_path, "all_results", "--configfile", str(REPO / "config/seeds/temporal-saes.yaml"))
    # Two models, each a temporal, a Matryoshka and a TopK SAE on a sequence corpus of 20 shards plus the held-out one.
    assert counts["sae_train"] == 6 and counts["sequence_corpus"] == 2 * 21
    assert counts["temporal_smoothness"] == counts["temporal_alignment"] == counts["figure_tsne"] == 6
    assert counts["chunk_probe"] == 2 * 4 and counts["smoothness_table"] == 2
