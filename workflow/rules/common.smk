import re

from snakemake.logging import logger
from snakemake.utils import validate

from saeprobe.config import (
    BASELINE_NAMES,
    check_config,
    extraction_layers,
    job_resources,
    main_layer,
    probe_settings,
    sae_entries,
    sae_layers,
)
from saeprobe.datasets import reference_master_path, reference_ood_files, resolve_sources
from saeprobe.driver import cancel_orphan_slurm_jobs, claim_driver_lock, remove_stale_locks


# A killed driver leaves Snakemake's lock behind; the driver that holds the
# operating-system lock knows it is the only one alive, and clears it (so the
# usual command also resumes). Jobs re-parse this file: they leave it alone.
DRIVES_THIS_DIRECTORY = workflow.is_main_process and claim_driver_lock()
if DRIVES_THIS_DIRECTORY:
    for stale in remove_stale_locks():
        logger.warning(f"Removed {stale}: a lock left by a run whose driver was killed (no driver is alive here).")


onstart:
    # Slurm jobs submitted from here by a killed driver would run twice.
    if DRIVES_THIS_DIRECTORY and not workflow.local_exec:
        cancelled = cancel_orphan_slurm_jobs()
        if cancelled:
            logger.warning(f"Cancelled Slurm jobs {', '.join(cancelled)}, left running by a killed driver; "
                           "they are submitted again (an SAE training job resumes from its checkpoint).")


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
PROBE_SETTINGS = probe_settings(config)
# Datasets with an OOD test set: the reference's eight, when selected.
# Figures of AUC against a setting's grid, by the name in their path.
SETTING_FIGURES = {
    name: setting
    for name, setting in (("train_size", "scarcity"), ("imbalance", "imbalance"), ("noise", "label_noise"))
    if setting in PROBE_SETTINGS
}
OOD_DATASETS = [d for d in DATASETS if d in reference_ood_files()] if USES_REFERENCE else []


def _alternatives(names):
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    model=_alternatives(MODELS),
    dataset=_alternatives(DATASETS),
    sae=_alternatives({s for specs in SAES.values() for s in specs}),
    layer=r"\d+",
    setting=_alternatives(PROBE_SETTINGS),
    method=_alternatives(BASELINE_NAMES),
    shard=r"\d{3}",


def job_threads(rule):
    return job_resources(config, rule)["threads"]


def cluster_resources(rule):
    """The rule's SLURM request (config: resources). Memory and runtime grow
    with the attempt, so a job retried after running out asks for more."""
    spec = job_resources(config, rule)
    request = {
        "mem_mb": lambda wildcards, attempt: spec["mem_mb"] * attempt,
        "runtime": lambda wildcards, attempt: spec["runtime"] * attempt,
    }
    if spec["gres"]:
        request["gres"] = spec["gres"]
    if spec["slurm_partition"]:
        request["slurm_partition"] = spec["slurm_partition"]
    return request


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


def probe_inputs(wildcards):
    """A probe job's labels and features (activations, or an SAE's latents),
    and in the OOD setting those of the dataset's OOD set too."""
    model, dataset = wildcards.model, wildcards.dataset
    if hasattr(wildcards, "sae"):
        features = f"results/{model}/latents/{wildcards.sae}/{{}}{dataset}.npz"
    else:
        features = f"results/{model}/activations/{{}}{dataset}"
    inputs = {"dataset": f"resources/datasets/{dataset}.parquet", "features": features.format("")}
    if wildcards.setting == "ood":
        inputs["ood_dataset"] = f"resources/datasets/ood/{dataset}.parquet"
        inputs["ood_features"] = features.format("ood/")
    return inputs


def probe_results(model, setting):
    """Per-job probe tables of one model and setting: each baseline at every
    probed layer (normal) or at the main layer (other settings), and each SAE."""
    cfg = MODELS[model]
    layers = cfg["layers"] if setting == "normal" else [main_layer(cfg)]
    datasets = OOD_DATASETS if setting == "ood" else DATASETS
    paths = []
    for dataset in datasets:
        folder = f"results/{model}/probes/{setting}/{dataset}"
        paths += [f"{folder}/{m}_layer_{L}.parquet" for m in PROBE_SETTINGS[setting]["baselines"] for L in layers]
        paths += [f"{folder}/sae_{sae}.parquet" for sae in SAES[model]]
    return paths


def all_results_targets():
    targets = []
    if USES_REFERENCE:
        targets.append("resources/datasets/reference_catalog.parquet")
        targets += [f"resources/datasets/ood/{d}.parquet" for d in OOD_DATASETS]
    for model in MODELS:
        tables = f"results/{model}/tables"
        figures = f"results/{model}/figures"
        for setting in PROBE_SETTINGS:
            targets += [f"{tables}/{setting}.parquet", f"{tables}/{setting}.csv"]
        targets += [f"{tables}/comparison.csv", f"{tables}/win_rates.csv", f"{tables}/quiver.csv"]
        targets += [f"{figures}/auc_vs_{axis}.png" for axis in SETTING_FIGURES]
        if "normal" in PROBE_SETTINGS:
            targets += [f"{figures}/auc_vs_k.png", f"{figures}/baselines_by_layer.png"]
        if SAES[model]:
            targets += [f"{tables}/sae_metrics.csv", f"{figures}/fve_vs_l0.png", f"{figures}/win_rates.png"]
    return targets
