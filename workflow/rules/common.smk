import os
import re

from snakemake.logging import logger
from snakemake.utils import validate

from saeprobe import paths
from saeprobe.config import (
    autointerp_saes,
    baseline_layers,
    check_config,
    crossmodal_saes,
    described_datasets,
    described_saes,
    expand_reference_saes,
    explainer_settings,
    extraction_layers,
    interpreted_latents,
    interpreted_saes,
    job_resources,
    main_layer,
    multitoken_saes,
    probe_settings,
    probed_saes,
    representation_saes,
    sae_entries,
    sae_layers,
    sensitivity_saes,
    sequence_corpus_layers,
    sequence_trained_saes,
    temporal_saes,
)
from saeprobe.datasets import (
    local_text_source,
    reference_master_path,
    reference_ood_files,
    rejected_datasets,
    resolve_sources,
)
from saeprobe.autointerp.descriptions import OOD_TASKS
from saeprobe.interpret.corpus import PROBE_PROMPTS
from saeprobe.llm import check_api_key
from saeprobe.llm.providers import KEY_VARIABLE
from saeprobe.driver import cancel_orphan_slurm_jobs, claim_driver_lock, remove_stale_locks
from saeprobe.models import check_model_settings, known_model_facts
from saeprobe.sae_facts import known_sae_inputs

from saeprobe.settings import SETTINGS


# A killed driver leaves Snakemake's lock behind; the driver that holds the
# operating-system lock knows it is the only one alive, and clears it (so the
# usual command also resumes). Jobs re-parse this file: they leave it alone.
DRIVES_THIS_DIRECTORY = workflow.is_main_process and claim_driver_lock()
if DRIVES_THIS_DIRECTORY:
    for stale in remove_stale_locks():
        logger.warning(f"Removed {stale}: a lock left by a run whose driver was killed (no driver is alive here).")


onstart:
    # The Claude explainer's key, before any job rather than at the first call.
    if ASKS_AN_LLM and EXPLAINER["provider"] == "claude":
        check_api_key()
    # Slurm jobs submitted from here by a killed driver would run twice.
    if DRIVES_THIS_DIRECTORY and not workflow.local_exec:
        cancelled = cancel_orphan_slurm_jobs()
        if cancelled:
            logger.warning(f"Cancelled Slurm jobs {', '.join(cancelled)}, left running by a killed driver; "
                           "they are submitted again (an SAE training job resumes from its checkpoint).")


validate(config, schema="../schemas/config.schema.yaml", set_default=True)
expand_reference_saes(config)
check_config(config)

DATASETS = resolve_sources(
    config["datasets"]["reference"],
    config["datasets"]["user_csv_dir"],
    config["datasets"]["text_column"],
    config["datasets"]["label_column"],
)
# A dataset that fails its checks fails its own preparation job, with the
# reason, and is left out of everything shared (SAE corpora, SAE evaluation,
# tables, figures), which go on with the datasets that passed.
REJECTED = rejected_datasets(DATASETS, config["datasets"]["drop_duplicates"])
PROBED_DATASETS = [d for d in DATASETS if d not in set(REJECTED["dataset"])]
if not PROBED_DATASETS:
    raise ValueError("no dataset passed its checks:\n" + "\n".join(REJECTED["reason"]))
if workflow.is_main_process and len(REJECTED):
    logger.warning(f"{len(REJECTED)} dataset(s) rejected, left out of the SAEs, tables and figures "
                   f"(listed in {paths.rejected_datasets_table()}):\n" + "\n".join(REJECTED["reason"]))
MODELS = config["models"]
SAES = {model: sae_entries(cfg) for model, cfg in MODELS.items()}
# Layers, chat template and pretrained SAEs' widths against the model, before
# any job loads it. A hub model neither prepared nor in the hub cache is
# checked by its model_prepare job; a hub SAE not yet downloaded, by its import.
for _model, _model_cfg in MODELS.items():
    _facts = known_model_facts(_model_cfg["source"], paths.model_dir(_model))
    if _facts is not None:
        check_model_settings(_facts, _model, extraction_layers(_model_cfg), _model_cfg["chat_template"],
                             known_sae_inputs(SAES[_model]))
TRAINED_SAES = {s for entries in SAES.values() for s, e in entries.items() if "pretrained" not in e}
PRETRAINED_SAES = {s for entries in SAES.values() for s, e in entries.items() if "pretrained" in e}
CORPUS = config["corpus"]
USES_REFERENCE = bool(config["datasets"]["reference"])
PROBE_SETTINGS = probe_settings(config)
# Figures of AUC against a setting's grid, by the axis name in their path.
SETTING_FIGURES = {SETTINGS[s].figure.name: s for s in PROBE_SETTINGS if SETTINGS[s].figure}
# The setting whose table each of the other per-setting figures is drawn from.
TABLE_FIGURE_SETTINGS = {figure: s for s, spec in SETTINGS.items() for figure in spec.table_figures}
# Datasets with an OOD test set: the reference's eight, when selected.
OOD_DATASETS = [d for d in PROBED_DATASETS if d in reference_ood_files()] if USES_REFERENCE else []
# Autointerp and sensitivity: the SAEs each reads, per model, the SAEs whose
# example windows are drawn for either, and who explains them.
AUTOINTERP_SAES = autointerp_saes(config)
SENSITIVITY_SAES = sensitivity_saes(config)
INTERPRETED_SAES = interpreted_saes(config)
INTERPRET_CORPUS = config["autointerp"]["corpus"]
DESCRIBED_SAES = described_saes(config)
DESCRIBED_DATASETS = described_datasets(config, DATASETS, PROBED_DATASETS)
EXPLAINER = explainer_settings(config)
ASKS_AN_LLM = any(AUTOINTERP_SAES.values()) or any(SENSITIVITY_SAES.values())
PROBED_SAES = probed_saes(config)
# Temporal SAEs: the SAEs that train on the sequence corpus, those the
# temporal analyses measure, and the corpus both read.
SEQUENCE_TRAINED_SAES = sequence_trained_saes(config)
TEMPORAL_SAES = temporal_saes(config)
SEQUENCE_CORPUS = config["temporal"]["corpus"]
CHUNK_PROBING = config["temporal"]["chunk_probing"]
ALIGNMENT = config["temporal"]["alignment"]
# Representation analyses: the SAEs compared with the residual, and the residual's layers (theirs).
REPRESENTATION_SAES = representation_saes(config)
REPRESENTATION = config["representation"]
# Cross-modal stitching: the SAEs whose latents are stitched, and its settings.
CROSSMODAL_SAES = crossmodal_saes(config)
CROSSMODAL = config["crossmodal"]
# Multi-token probes: the SAEs whose pooled codes are probed, and the datasets pooled.
MULTITOKEN_SAES = multitoken_saes(config)
MULTI_TOKEN = config["multi_token"]
MULTITOKEN_DATASETS = (PROBED_DATASETS if MULTI_TOKEN["datasets"] == "all"
                       else [d for d in PROBED_DATASETS if d in MULTI_TOKEN["datasets"]])
if MULTI_TOKEN["enabled"] and MULTI_TOKEN["datasets"] != "all":
    _unknown = sorted(set(MULTI_TOKEN["datasets"]) - set(PROBED_DATASETS))
    if _unknown:
        raise ValueError(f"multi_token.datasets: {_unknown} are not probed datasets; choose from {PROBED_DATASETS}")
if ASKS_AN_LLM:
    if EXPLAINER["provider"] == "claude" and workflow.is_main_process and not os.environ.get(KEY_VARIABLE):
        # A dry run calls nothing, so it may be planned without the key; a real run stops at onstart.
        logger.warning(f"{KEY_VARIABLE} is not set: the autointerp and sensitivity jobs need it")
    if EXPLAINER["provider"] == "offline":
        _facts = known_model_facts(MODELS[EXPLAINER["model"]]["source"], paths.model_dir(EXPLAINER["model"]))
        if _facts is not None and not _facts["chat_template"]:
            raise ValueError(f"autointerp.explainer.model: the offline explainer {EXPLAINER['model']!r} has no "
                             f"chat template to put the prompts in; choose a chat model, or the claude provider")


# Extraction, SAE training and encoding lead to every SAE probe: run them
# before the probe fits, which can wait. With the default priority, 2 cores
# fitted baselines while the SAEs waited for the last datasets' activations.
CRITICAL_PATH_PRIORITY = 10


def _alternatives(names):
    return "|".join(re.escape(n) for n in names) or "(?!)"


wildcard_constraints:
    model=_alternatives(MODELS),
    dataset=_alternatives(DATASETS),
    sae=_alternatives({s for specs in SAES.values() for s in specs}),
    layer=r"\d+",
    setting=_alternatives(PROBE_SETTINGS),
    shard=r"\d{3}",
    split=_alternatives(paths.SEQUENCE_SPLITS),
    representation=_alternatives({paths.RESIDUAL} | {s for specs in SAES.values() for s in specs}),


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
    """Activation folders whose corpus files feed SAE training."""
    model = wildcards.model
    if corpus_from_probe_prompts():
        return [paths.activation_dir(model, d) for d in PROBED_DATASETS]
    return [paths.corpus_shard_dir(model, i) for i in range(CORPUS["num_shards"])]


def sequence_shards(model, split):
    """The shard folders of the model's sequence corpus's ``split`` (its held-out rows are one shard)."""
    count = SEQUENCE_CORPUS["num_shards"] if split == "train" else 1
    return [paths.sequence_shard_dir(model, split, shard) for shard in range(count)]


def training_corpus_inputs(wildcards):
    """What an SAE trains on: its corpus's folders, and the held-out rows of a sequence corpus."""
    if wildcards.sae in SEQUENCE_TRAINED_SAES[wildcards.model]:
        return {"corpus": sequence_shards(wildcards.model, "train"),
                "heldout": sequence_shards(wildcards.model, "heldout")}
    return {"corpus": corpus_inputs(wildcards), "heldout": []}


def alignment_explanations(wildcards):
    """The alignment study's latent explanations: the configured file, else
    autointerp's for an SAE it interprets, else none."""
    if ALIGNMENT["explanations"]:
        return [ALIGNMENT["explanations"]]
    if wildcards.sae in AUTOINTERP_SAES[wildcards.model]:
        return [paths.detection_scores_file(wildcards.model, wildcards.sae)]
    return []


def probe_inputs(wildcards):
    """A probe job's labels and features (activations, or an SAE's latents),
    and in a setting that tests on the OOD sets those of the dataset's OOD set too."""
    model, dataset = wildcards.model, wildcards.dataset
    if hasattr(wildcards, "sae"):
        features = lambda ood: paths.latents_file(model, wildcards.sae, dataset, ood)
    else:
        features = lambda ood: paths.activation_dir(model, dataset, ood)
    inputs = {"dataset": paths.dataset_file(dataset), "features": features(False)}
    if SETTINGS[wildcards.setting].uses_ood_data:
        inputs["ood_dataset"] = paths.dataset_file(dataset, ood=True)
        inputs["ood_features"] = features(True)
    return inputs


def probe_results(model, setting):
    """Per-job probe tables of one model and setting: each baseline at the
    setting's layers (every probed layer, or the main layer), and each SAE."""
    layers = baseline_layers(MODELS[model], setting)
    datasets = OOD_DATASETS if SETTINGS[setting].uses_ood_data else PROBED_DATASETS
    tables = []
    for dataset in datasets:
        if PROBE_SETTINGS[setting]["baselines"]:
            tables += [paths.baseline_probe_file(model, setting, dataset, layer) for layer in layers]
        tables += [paths.sae_probe_file(model, setting, dataset, sae) for sae in PROBED_SAES[model]]
    return tables


def offline_explainer_model(wildcards):
    """The offline explainer is a configured model: its prepared folder."""
    return [paths.model_dir(EXPLAINER["model"])] if EXPLAINER["provider"] == "offline" else []


def dataset_analysis_inputs(wildcards):
    """The dataset's latents and rows, and those of its OOD set where the shift has a description."""
    model, sae, dataset = wildcards.model, wildcards.sae, wildcards.dataset
    inputs = {"latents": paths.latents_file(model, sae, dataset), "dataset": paths.dataset_file(dataset),
              "explainer_model": offline_explainer_model(wildcards)}
    if dataset in OOD_DATASETS and dataset in OOD_TASKS:
        inputs["ood_latents"] = paths.latents_file(model, sae, dataset, ood=True)
        inputs["ood_dataset"] = paths.dataset_file(dataset, ood=True)
    return inputs


def one_layer(model, saes, key):
    """The layer a stage's SAEs share (the stage ``key`` reads one), else the main layer."""
    layers = {SAES[model][sae]["layer"] for sae in saes}
    if len(layers) > 1:
        raise ValueError(f"{key} of {model} sit at layers {sorted(layers)}; choose SAEs of one layer")
    return layers.pop() if layers else main_layer(MODELS[model])


def multitoken_layer(model):
    return one_layer(model, MULTITOKEN_SAES[model], "multi_token.saes")


def crossmodal_layer(model):
    return one_layer(model, CROSSMODAL_SAES[model], "crossmodal.saes")


def representation_inputs(wildcards):
    """A job of a representation (the residual or an SAE) over the probed
    datasets reads their labels and the residual's activations or the SAE's latents."""
    model, representation = wildcards.model, wildcards.representation
    inputs = {"datasets": [paths.dataset_file(d) for d in PROBED_DATASETS]}
    if representation == paths.RESIDUAL:
        inputs["activations"] = [paths.activation_dir(model, d) for d in PROBED_DATASETS]
    else:
        inputs["latents"] = [paths.latents_file(model, representation, d) for d in PROBED_DATASETS]
    return inputs


def crossmodal_inputs(wildcards):
    """A stitching job reads what a representation job reads, and the image features."""
    return {**representation_inputs(wildcards), "images": paths.image_features_dir(CROSSMODAL["images"])}


def representations(wildcards):
    """The representations the tables join: the residual, then the compared SAEs."""
    return [paths.RESIDUAL, *REPRESENTATION_SAES[wildcards.model]]


def representation_layers(wildcards):
    """The layers of a representation job: the SAE's, or for the residual every compared SAE's."""
    saes = REPRESENTATION_SAES[wildcards.model]
    names = saes if wildcards.representation == paths.RESIDUAL else [wildcards.representation]
    return sorted({SAES[wildcards.model][name]["layer"] for name in names})


def all_results_targets():
    # A rejected dataset's preparation is asked for, so that the run fails with its reason.
    targets = [paths.rejected_datasets_table()] + [paths.dataset_file(d) for d in REJECTED["dataset"]]
    if USES_REFERENCE:
        targets.append(paths.reference_catalog())
        targets += [paths.dataset_file(d, ood=True) for d in OOD_DATASETS]
    for model in MODELS:
        for setting in PROBE_SETTINGS:
            targets += [paths.setting_table(model, setting), paths.setting_table(model, setting, ".csv")]
        targets += [paths.summary_table(model, name) for name in paths.SUMMARY_TABLES]
        targets += [paths.figure(model, paths.setting_figure_name(axis)) for axis in SETTING_FIGURES]
        targets += [paths.figure(model, name) for name, s in TABLE_FIGURE_SETTINGS.items() if s in PROBE_SETTINGS]
        if SAES[model]:
            targets += [paths.sae_metrics_table(model), paths.figure(model, "fve_vs_l0"),
                        paths.figure(model, "win_rates")]
        if AUTOINTERP_SAES[model]:
            targets += [paths.autointerp_table(model), paths.autointerp_scores_table(model),
                        paths.figure(model, "autointerp_scores")]
        if SENSITIVITY_SAES[model]:
            targets += [paths.sensitivity_table(model), paths.sensitivity_table(model, ".csv"),
                        paths.sensitivity_scores_table(model), paths.figure(model, "sensitivity")]
        if TEMPORAL_SAES[model]:
            targets += [paths.temporal_table("smoothness", model), paths.figure(model, "smoothness")]
            if CHUNK_PROBING["enabled"]:
                targets += [paths.temporal_table("chunk_probing", model), paths.figure(model, "chunk_probing")]
                mapped = CHUNK_PROBING["tsne_saes"]
                targets += [paths.figure(model, f"tsne_{sae}") for sae in TEMPORAL_SAES[model]
                            if mapped == "all" or sae in mapped]
            if ALIGNMENT["pairs"]:
                targets.append(paths.temporal_table("alignment", model))
        if REPRESENTATION_SAES[model]:
            targets += [paths.representation_table(name, model) for name in paths.REPRESENTATION_TABLES]
            targets += [paths.figure(model, name) for name in paths.REPRESENTATION_FIGURES]
        if CROSSMODAL_SAES[model]:
            targets += [paths.stitching_table(model), paths.figure(model, "crossmodal_stitching")]
        if MULTITOKEN_SAES[model] and MULTITOKEN_DATASETS and "normal" in PROBE_SETTINGS:
            targets += [paths.multitoken_table(model), paths.figure(model, "multi_token")]
        if DESCRIBED_SAES[model] and DESCRIBED_DATASETS:
            for analysis in paths.DATASET_ANALYSES:
                targets += [paths.dataset_analysis_table(model, analysis),
                            paths.dataset_analysis_table(model, analysis, ".csv"),
                            paths.figure(model, f"autointerp_{analysis}")]
    return targets
