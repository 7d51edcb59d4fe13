"""The representation analyses, cross-modal stitching and multi-token probes
end to end on the tiny model: the residual and an SAE over three word
datasets, their tables and figures, and nothing else."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from saeprobe import paths
from workflow_helpers import job_counts, make_small_workdir, small_config, snakemake, write_word_dataset

pytestmark = pytest.mark.slow

TARGETS = ([paths.representation_table(name, "tiny") for name in paths.REPRESENTATION_TABLES]
           + [paths.figure("tiny", name) for name in paths.REPRESENTATION_FIGURES]
           + [paths.stitching_table("tiny"), paths.figure("tiny", "crossmodal_stitching")]
           + [paths.multitoken_table("tiny"), paths.figure("tiny", "multi_token")])


def test_representation_crossmodal_and_multitoken_stages_end_to_end(tmp_path, tiny_model_dir):
    config = small_config(tiny_model_dir, sae_steps=40)
    config["representation"] = {"enabled": True, "logistic_top": 8, "salient_top": 8, "selectivity_top": 4,
                                "cluster_positives": 16, "dataset_groups": "groups.csv"}
    config["crossmodal"] = {"enabled": True, "per_concept": 16, "logistic_top": 8, "n_pairings": 3}
    config["multi_token"] = {"enabled": True, "datasets": ["words_a", "words_c"], "ks": [4]}
    workdir = make_small_workdir(tmp_path, config)
    write_word_dataset(workdir / "data" / "words_c.csv", 160, range(400, 403), range(500, 503), seed=3)
    (workdir / "groups.csv").write_text("group,dataset\nwords,words_a\nwords,words_b\n")

    counts = job_counts(workdir, *TARGETS)
    assert counts["representation_analysis"] == 2 and counts["crossmodal_stitch"] == 2  # the residual and the SAE
    assert counts["crossmodal_images"] == 1
    assert counts["multitoken_pool"] == 2 and counts["multitoken_probe"] == 4  # two datasets, mean and max
    assert counts["aggregate_setting"] == 1  # the last-token probes of the normal setting only
    snakemake(workdir, *TARGETS)

    tables = {name: pd.read_csv(workdir / paths.representation_table(name, "tiny"))
              for name in paths.REPRESENTATION_TABLES}
    separability = tables["separability"]
    assert set(separability["representation"]) == {"raw", "logreg", "topk-w64-k4"}
    assert separability.groupby("representation").size().to_dict() == {"raw": 3, "logreg": 3, "topk-w64-k4": 3}
    assert separability["auc"].between(0.5, 1).all()  # each word set carries its label
    assert separability["jss"].between(0, 1).all() and separability["sno"].between(0, 1).all()
    assert set(tables["selectivity"]["representation"]) == {"logreg", "topk-w64-k4"}
    reuse = tables["feature_reuse"]
    assert set(zip(reuse["dataset_a"], reuse["dataset_b"])) == {("words_a", "words_b")}
    assert reuse.loc[reuse["representation"] == "topk-w64-k4", "delta_jaccard"].notna().all()
    clusters = tables["cluster_separation"]
    assert set(clusters["representation"]) == {"raw", "logreg", "topk-w64-k4"} and (clusters["n_concepts"] == 3).all()
    assert len(tables["cluster_pairwise"]) == 3 * 3
    for name in paths.REPRESENTATION_FIGURES:
        assert (workdir / paths.figure("tiny", name)).stat().st_size > 10_000

    stitching = pd.read_csv(workdir / paths.stitching_table("tiny")).set_index("representation")
    assert list(stitching.index) == ["raw", "logreg", "topk-w64-k4"]
    assert (stitching["n_concepts"] == 3).all() and stitching["chance"].tolist() == pytest.approx([1 / 3] * 3)
    assert stitching[["accuracy_mean", "shuffled_accuracy_mean"]].stack().between(0, 1).all()
    # Each word set is its own cluster in the residual: its map finds the paired digits.
    assert stitching.loc["raw", "accuracy_mean"] > stitching.loc["raw", "shuffled_accuracy_mean"]
    images = json.loads((workdir / paths.image_features_dir("digits") / "meta.json").read_text())
    assert images["classes"] == 10 and images["encoder_held_out_accuracy"] > 0.9
    assert (workdir / paths.figure("tiny", "crossmodal_stitching")).stat().st_size > 10_000

    multi = pd.read_csv(workdir / paths.multitoken_table("tiny"), keep_default_na=False)
    assert set(multi["dataset"]) == {"words_a", "words_c"} and set(multi["pooling"]) == {"last", "mean", "max"}
    by_pooling = multi.groupby("pooling").apply(lambda rows: set(zip(rows["method"], rows["k"].astype(str))),
                                                include_groups=False)
    assert by_pooling["mean"] == by_pooling["max"] == by_pooling["last"] == {("logreg_l2", ""), ("sae_topk_l1", "4")}
    assert multi["test_auc"].astype(float).between(0.5, 1).all()
    pooled = workdir / paths.pooled_dir("tiny", "words_a")
    assert sorted(f.name for f in pooled.iterdir() if f.name != ".snakemake_timestamp") == ["meta.json", "residual_max.npy", "residual_mean.npy",
                                                        "topk-w64-k4_max.npz", "topk-w64-k4_mean.npz"]
