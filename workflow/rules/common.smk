import re

from snakemake.utils import validate

from saeprobe.config import check_config, extraction_layers, sae_entries, sae_layers
from saeprobe.datasets import reference_master_path, reference_ood_files, resolve_sources


validate(config, schema="../schemas/config.schema.yaml", set_default=True)
check_config(config)

DATASETS = resolve_sources(
    config["datasets"]["reference"],
    config["datasets"]["user_csv_dir"],
    config["datasets"]["text_column"],
    config["datasets"]["label_column"],
)
MODELS = config["models"]
SAES = {model: sae_entries(cfg) for model, cfg in MODELS.items()}
TRAINED_SAES = {s for entries in SAES.values() for s, e in entries.items() if "pretrained" not in e}
PRETRAINED_SAES = {s for entries in SAES.values() for s, e in entries.items() if "pretrained" in e}
CORPUS = config["corpus"]
USES_REFERENCE = bool(config["datasets"]["reference"])


def _alternatives(names):
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    model=_alternatives(MODELS),
    dataset=_alternatives(DATASETS),
    sae=_alternatives({s for specs in SAES.values() for s in specs}),
    layer=r"\d+",
    shard=r"\d{3}",


def model_params(wildcards):
    """The model's extraction settings, as rule params (so changes trigger reruns)."""
    cfg = MODELS[wildcards.model]
    return {
        "layers": extraction_layers(cfg),
        "dtype": cfg["dtype"],
        "chat_template": cfg["chat_template"],
        "max_seq_len": cfg["max_seq_len"],
        "batch_size": cfg["batch_size"],
    }


def pretrained_source(wildcards):
    """Inputs of an SAE import: the local checkpoint folder, if it is one."""
    source = SAES[wildcards.model][wildcards.sae]["pretrained"]
    return [source["path"]] if "path" in source else []


def corpus_from_probe_prompts():
    return CORPUS["source"] == "probe_train"


def corpus_inputs(wildcards):
    """Activation folders whose corpus_layer_*.npy files feed SAE training."""
    model = wildcards.model
    if corpus_from_probe_prompts():
        return [f"results/{model}/activations/{d}" for d in DATASETS]
    return [f"results/{model}/corpus/shard_{i:03d}" for i in range(CORPUS["num_shards"])]


def probe_results(model):
    """Per-job probe tables of one model, normal setting."""
    paths = []
    for dataset in DATASETS:
        folder = f"results/{model}/probes/normal/{dataset}"
        paths += [f"{folder}/logreg_l2_layer_{layer}.parquet" for layer in MODELS[model]["layers"]]
        paths += [f"{folder}/sae_{sae}.parquet" for sae in SAES[model]]
    return paths


def all_results_targets():
    targets = []
    if USES_REFERENCE:
        targets.append("resources/datasets/reference_catalog.parquet")
        ood = reference_ood_files()
        targets += [f"resources/datasets/ood/{d}.parquet" for d in DATASETS if d in ood]
    for model in MODELS:
        targets += [
            f"results/{model}/tables/normal.parquet",
            f"results/{model}/tables/normal.csv",
            f"results/{model}/figures/auc_vs_k.png",
        ]
        if SAES[model]:
            targets += [f"results/{model}/tables/sae_metrics.csv", f"results/{model}/figures/fve_vs_l0.png"]
    return targets
