"""The artefact paths: the documented scheme, concrete values, and the rules asking for them."""

import re

import pytest

from saeprobe import paths
from workflow_helpers import REPO

# Each path function's pattern, as README.md ("What you get") documents it.
DOCUMENTED = {
    paths.dataset_file(): "resources/datasets/{dataset}.parquet",
    paths.dataset_file(ood=True): "resources/datasets/ood/{dataset}.parquet",
    paths.reference_catalog(): "resources/datasets/reference_catalog.parquet",
    paths.rejected_datasets_table(): "results/rejected_datasets.csv",
    paths.model_dir() + "/": "resources/models/{model}/",
    f"{paths.activation_dir()}/{paths.activation_file_name('{L}')}":
        "results/{model}/activations/{dataset}/layer_{L}.npy",
    f"{paths.activation_dir()}/{paths.corpus_file_name('{L}')}":
        "results/{model}/activations/{dataset}/corpus_layer_{L}.npy",
    paths.sae_dir() + "/": "results/{model}/saes/{sae}/",
    paths.reference_cross_entropy(layer="{L}"): "results/{model}/saes/reference_cross_entropy_layer_{L}.json",
    paths.latents_file(): "results/{model}/latents/{sae}/{dataset}.npz",
    paths.activation_dir(ood=True) + "/": "results/{model}/activations/ood/{dataset}/",
    paths.latents_file(ood=True): "results/{model}/latents/{sae}/ood/{dataset}.npz",
    paths.baseline_probe_file(layer="{L}"): "results/{model}/probes/{setting}/{dataset}/baselines_layer_{L}.parquet",
    paths.sae_probe_file(): "results/{model}/probes/{setting}/{dataset}/sae_{sae}.parquet",
    paths.setting_table(): "results/{model}/tables/{setting}.parquet",
    paths.summary_table(name="comparison"): "results/{model}/tables/comparison.csv",
    paths.summary_table(name="win_rates"): "results/{model}/tables/win_rates.csv",
    paths.summary_table(name="quiver"): "results/{model}/tables/quiver.csv",
    paths.summary_table(name="quiver_reference"): "results/{model}/tables/quiver_reference.csv",
    paths.sae_metrics_table(): "results/{model}/tables/sae_metrics.csv",
    paths.figure(name="auc_vs_k"): "results/{model}/figures/auc_vs_k.png",
    paths.figure(name=paths.setting_figure_name("train_size")): "results/{model}/figures/auc_vs_train_size.png",
    paths.figure(name="baselines_by_layer"): "results/{model}/figures/baselines_by_layer.png",
    paths.figure(name="win_rates"): "results/{model}/figures/win_rates.png",
    paths.figure(name="fve_vs_l0"): "results/{model}/figures/fve_vs_l0.png",
    paths.interpretation_corpus_dir() + "/": "results/{model}/interpret/corpus/",
    paths.latent_examples_file(): "results/{model}/interpret/{sae}/examples.parquet",
    paths.detection_scores_file(): "results/{model}/autointerp/{sae}/detection.parquet",
    paths.autointerp_table(): "results/{model}/tables/autointerp.parquet",
    paths.autointerp_scores_table(): "results/{model}/tables/autointerp_scores.csv",
    paths.figure(name="autointerp_scores"): "results/{model}/figures/autointerp_scores.png",
    paths.llm_cache_dir() + "/": "resources/llm_cache/",
    paths.dataset_analysis_file(): "results/{model}/autointerp/{sae}/{dataset}/{analysis}.parquet",
    paths.dataset_analysis_table(): "results/{model}/tables/autointerp_{analysis}.parquet",
    paths.figure(name="autointerp_{analysis}"): "results/{model}/figures/autointerp_{analysis}.png",
}


@pytest.mark.parametrize("pattern, documented", DOCUMENTED.items())
def test_patterns_are_the_documented_paths(pattern, documented):
    assert pattern == documented
    assert f"`{documented}`" in (REPO / "README.md").read_text()


def test_every_summary_table_is_documented():
    readme = (REPO / "README.md").read_text()
    for name in paths.SUMMARY_TABLES:
        assert f"`{paths.summary_table(name=name)}`" in readme, name
    for analysis in paths.DATASET_ANALYSES:
        assert f"`{analysis}`" in readme and f"autointerp_{analysis}.csv" in readme, analysis


def test_concrete_values_fill_the_patterns():
    assert paths.activation_dir("m", "d") == "results/m/activations/d"
    assert paths.activation_dir("m", "d", ood=True) == "results/m/activations/ood/d"
    assert paths.corpus_shard_dir("m", 3) == "results/m/corpus/shard_003" == paths.corpus_shard_dir("m", "003")
    assert paths.corpus_shard_dir() == "results/{model}/corpus/shard_{shard}"
    assert paths.baseline_probe_file("m", "scarcity", "d", 7) == "results/m/probes/scarcity/d/baselines_layer_7.parquet"
    assert paths.setting_table("m", "ood", ".csv") == "results/m/tables/ood.csv"
    assert paths.sae_weights("m", "s") == "results/m/saes/s/sae.safetensors"
    assert paths.sae_checkpoint("m", "s") == "results/m/checkpoints/s.pt"
    assert paths.job_log("probe_sae") == "logs/{model}/probes/{setting}/{dataset}/sae_{sae}.log"
    assert paths.job_benchmark("sae_evaluate") == "logs/{model}/saes/{sae}.evaluate.bench.tsv"
    with pytest.raises(KeyError, match="_JOB_STEMS"):
        paths.job_log("no_such_rule")


def test_benchmark_files_name_their_rules():
    assert paths.rules_of_benchmark("logs/m/latents/s/d.bench.tsv") == ["sae_encode"]
    assert paths.rules_of_benchmark("logs/m/latents/s/ood/d.bench.tsv") == ["sae_encode_ood"]
    assert paths.rules_of_benchmark("logs/m/saes/s.evaluate.bench.tsv") == ["sae_evaluate"]
    assert paths.rules_of_benchmark("logs/m/saes/s.bench.tsv") == ["sae_train", "sae_import"]
    assert paths.rules_of_benchmark("logs/m/probes/ood/d/baselines_layer_7.bench.tsv") == ["probe_baselines"]
    assert paths.rules_of_benchmark("logs/m/probes/ood/d/sae_s.log") == []
    for rule in ("activations_extract", "probe_sae", "figure_auc_vs_setting", "summary_tables"):
        concrete = re.sub(r"\{\w+\}", "x", paths.job_benchmark(rule))
        assert paths.rules_of_benchmark(concrete) == [rule]


def rule_blocks():
    for rule_file in sorted((REPO / "workflow/rules").glob("*.smk")):
        for block in re.split(r"^(?=rule |use rule )", rule_file.read_text(), flags=re.M)[1:]:
            names = re.match(r"(?:rule (\w+):|use rule \w+ as (\w+) with:)", block).groups()
            yield names[0] or names[1], block


def test_every_rule_logs_and_benchmarks_where_paths_says():
    seen = set()
    for name, block in rule_blocks():
        assert f'paths.job_log("{name}")' in block, name
        assert f'paths.job_benchmark("{name}")' in block, name
        seen.add(name)
    assert seen == set(paths._JOB_STEMS)


def test_rules_and_scripts_spell_out_no_path():
    # Every artefact path comes from saeprobe.paths; a literal one would drift from it.
    files = [*(REPO / "workflow/rules").glob("*.smk"), *(REPO / "workflow/scripts").glob("*.py"), REPO / "Snakefile"]
    literal = re.compile(r"""["'](results|resources|logs)/|layer_\{|\.npy["']""")
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not literal.search(line), f"{path.name}:{number}: {line.strip()}"
