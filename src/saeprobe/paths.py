"""Where every artefact lives: one function per artefact, returning its path.

Arguments default to Snakemake wildcards, so ``activation_dir()`` is the
rule pattern ``results/{model}/activations/{dataset}`` and
``activation_dir("smollm2-135m", "87_glue_cola")`` a concrete path; the rules,
their input functions and the scripts all ask here. README.md ("What you
get") documents the scheme and tests/test_paths.py holds the two together.
A changed pattern strands every existing run's results.
"""

from __future__ import annotations

import re


def _ood(ood: bool) -> str:
    # A dataset's OOD test set sits in an ood/ folder beside the dataset's own files.
    return "ood/" if ood else ""


# Model-independent inputs.

def dataset_file(dataset="{dataset}", ood: bool = False) -> str:
    return f"resources/datasets/{_ood(ood)}{dataset}.parquet"


def reference_catalog() -> str:
    return "resources/datasets/reference_catalog.parquet"


def rejected_datasets_table() -> str:
    """The datasets that failed their checks, each with its file and reason."""
    return "results/rejected_datasets.csv"


def model_dir(model="{model}") -> str:
    """A prepared model: ``manifest.json`` (+ the converted checkpoint)."""
    return f"resources/models/{model}"


# Everything computed for a model.

def activation_dir(model="{model}", dataset="{dataset}", ood: bool = False) -> str:
    """One extraction job's folder: ``activation_file_name`` and ``corpus_file_name`` per layer, ``meta.json``."""
    return f"results/{model}/activations/{_ood(ood)}{dataset}"


def _shard(shard) -> str:
    # Shard numbers have three digits, so the folders sort in order.
    return f"{shard:03d}" if isinstance(shard, int) else shard


def corpus_shard_dir(model="{model}", shard="{shard}") -> str:
    """One shard of a text corpus's token activations (``corpus_file_name`` per layer)."""
    return f"results/{model}/corpus/shard_{_shard(shard)}"


def activation_file_name(layer="{layer}") -> str:
    """In an activation folder: the last-token vectors after block ``layer``, one row per dataset row."""
    return f"layer_{layer}.npy"


def corpus_file_name(layer="{layer}") -> str:
    """In an activation or corpus folder: token vectors for SAE training."""
    return f"corpus_layer_{layer}.npy"


# The sequence corpus of temporal SAEs: rows of consecutive tokens, BOS left out.
SEQUENCE_SPLITS = ("train", "heldout")


def sequence_shard_dir(model="{model}", split="{split}", shard="{shard}") -> str:
    """One shard of the sequence corpus's ``split`` (``SEQUENCE_SPLITS``):
    per layer ``sequence_file_name`` and ``sequence_valid_file_name``, plus
    ``corpus_tokens_file_name`` and ``sequence_rows_file_name``."""
    if split not in SEQUENCE_SPLITS and split != "{split}":
        raise KeyError(f"{split!r} is not one of the sequence corpus's splits {SEQUENCE_SPLITS}")
    return f"results/{model}/sequences/{split}/shard_{_shard(shard)}"


def sequence_file_name(layer="{layer}") -> str:
    """In a sequence shard: ``[rows, length, d_model]`` activations after block ``layer`` (float32)."""
    return f"sequences_layer_{layer}.npy"


def sequence_valid_file_name(layer="{layer}") -> str:
    """In a sequence shard: ``[rows, length]``, false at the norm outliers of ``sequence_file_name``."""
    return f"valid_layer_{layer}.npy"


def sequence_rows_file_name() -> str:
    """In a sequence shard: per row, the source of its first token (a dataset, or a document index)."""
    return "rows.parquet"


def sae_dir(model="{model}", sae="{sae}") -> str:
    return f"results/{model}/saes/{sae}"


def sae_weights(model="{model}", sae="{sae}") -> str:
    return f"{sae_dir(model, sae)}/sae.safetensors"


def sae_config(model="{model}", sae="{sae}") -> str:
    return f"{sae_dir(model, sae)}/cfg.json"


def sae_training_metrics(model="{model}", sae="{sae}") -> str:
    return f"{sae_dir(model, sae)}/metrics.json"


def sae_quality(model="{model}", sae="{sae}") -> str:
    return f"{sae_dir(model, sae)}/quality.json"


def reference_cross_entropy(model="{model}", layer="{layer}") -> str:
    """The clean and zero-ablated CE of the SAE evaluation at one layer, shared by its SAEs."""
    return f"results/{model}/saes/reference_cross_entropy_layer_{layer}.json"


def sae_checkpoint(model="{model}", sae="{sae}") -> str:
    """The trainer's resumable state; not a rule output, so a rerun finds it."""
    return f"results/{model}/checkpoints/{sae}.pt"


def latents_file(model="{model}", sae="{sae}", dataset="{dataset}", ood: bool = False) -> str:
    return f"results/{model}/latents/{sae}/{_ood(ood)}{dataset}.npz"


def baseline_probe_file(model="{model}", setting="{setting}", dataset="{dataset}", layer="{layer}") -> str:
    """Every baseline of the setting on the dataset's activations at one layer: one job."""
    return f"results/{model}/probes/{setting}/{dataset}/baselines_layer_{layer}.parquet"


def sae_probe_file(model="{model}", setting="{setting}", dataset="{dataset}", sae="{sae}") -> str:
    return f"results/{model}/probes/{setting}/{dataset}/sae_{sae}.parquet"


def interpretation_corpus_dir(model="{model}") -> str:
    """The interpretation corpus: ``corpus_tokens_file_name`` and, per layer,
    ``activation_file_name`` ``[rows, ctx, d_model]`` (float16)."""
    return f"results/{model}/interpret/corpus"


def corpus_tokens_file_name() -> str:
    """In the interpretation corpus folder: the token ids ``[rows, ctx]``."""
    return "tokens.npy"


def latent_examples_file(model="{model}", sae="{sae}") -> str:
    """The example windows of an SAE's sampled latents, a row per window."""
    return f"results/{model}/interpret/{sae}/examples.parquet"


def detection_scores_file(model="{model}", sae="{sae}") -> str:
    """Each sampled latent's explanation and detection score."""
    return f"results/{model}/autointerp/{sae}/detection.parquet"


def dataset_analysis_file(model="{model}", sae="{sae}", dataset="{dataset}", analysis="{analysis}") -> str:
    """One of kurexi's per-dataset analyses of an SAE's latents (``DATASET_ANALYSES``)."""
    return f"results/{model}/autointerp/{sae}/{dataset}/{analysis}.parquet"


# kurexi's per-dataset analyses, each a table per (SAE, dataset) and one per model.
DATASET_ANALYSES = ("descriptions", "ood_pruning", "audit")


# Feature sensitivity's files per SAE, named and laid out as the reference's
# (nathanhu0/sae-sensitivity): the shown windows, the generated samples and
# queries, both re-scored, and the per-latent result.
SENSITIVITY_FILES = ("feature_examples", "generated_samples", "generation_queries_with_responses",
                     "generated_samples_with_activations", "original_examples_with_activations", "feature_stats")


def sensitivity_dir(model="{model}", sae="{sae}") -> str:
    return f"results/{model}/sensitivity/{sae}"


def sensitivity_file(name: str, model="{model}", sae="{sae}") -> str:
    """One of an SAE's ``SENSITIVITY_FILES``, a CSV."""
    if name not in SENSITIVITY_FILES:
        raise KeyError(f"{name!r} is not one of the sensitivity files {SENSITIVITY_FILES}")
    return f"{sensitivity_dir(model, sae)}/{name}.csv"


def sensitivity_table(model="{model}", suffix: str = ".parquet") -> str:
    """Every measured latent of the model's SAEs (``.parquet``, or its ``.csv`` twin)."""
    return f"results/{model}/tables/sensitivity{suffix}"


def sensitivity_scores_table(model="{model}") -> str:
    """Per SAE: mean and median generated sensitivity, original sensitivity, latents measured."""
    return f"results/{model}/tables/sensitivity_scores.csv"


def part_of_speech_table(suffix: str = ".parquet") -> str:
    """The part of speech of each probed prompt's last token; its ``.json`` twin names the tagger, or why none ran."""
    return f"results/part_of_speech{suffix}"


def temporal_dir(model="{model}", sae="{sae}") -> str:
    """The temporal analyses of one SAE."""
    return f"results/{model}/temporal/{sae}"


def smoothness_file(model="{model}", sae="{sae}") -> str:
    """The SAE's smoothness metrics over the held-out sequences (JSON)."""
    return f"{temporal_dir(model, sae)}/smoothness.json"


RESIDUAL = "residual"
"""Chunk probing's baseline representation: the residual stream itself."""


def chunk_probe_file(model="{model}", representation="{representation}") -> str:
    """Chunk-probing accuracies of an SAE's chunks, or of the residual (``RESIDUAL``)."""
    return f"results/{model}/temporal/{representation}/chunk_probing.parquet"


def tsne_file(model="{model}", sae="{sae}") -> str:
    """The t-SNE map of the SAE's codes: a row per point with its domain, part of speech or document."""
    return f"{temporal_dir(model, sae)}/tsne.parquet"


def alignment_file(model="{model}", sae="{sae}", suffix: str = ".csv") -> str:
    """The alignment study's ranked high-level features (``.csv``), or its length summary (``.json``)."""
    return f"{temporal_dir(model, sae)}/alignment{suffix}"


def temporal_table(name: str, model="{model}") -> str:
    """One of ``TEMPORAL_TABLES`` across the measured SAEs (CSV); smoothness
    and chunk probing have a figure of the same name."""
    if name not in TEMPORAL_TABLES:
        raise KeyError(f"{name!r} is not one of the temporal tables {TEMPORAL_TABLES}")
    return f"results/{model}/tables/{name}.csv"


TEMPORAL_TABLES = ("smoothness", "chunk_probing", "alignment")


# The representation analyses (issue 17): one job per representation kind,
# the residual (its raw and logreg rows) or an SAE, over every probed dataset.
REPRESENTATION_FILES = ("datasets", "clusters", "pairwise")


def representation_file(model="{model}", representation="{representation}", name="{name}") -> str:
    """One of ``REPRESENTATION_FILES`` of a representation's job (parquet):
    per-dataset separability and selectivity, cluster separation, its pairwise table."""
    if name not in REPRESENTATION_FILES and name != "{name}":
        raise KeyError(f"{name!r} is not one of the representation files {REPRESENTATION_FILES}")
    return f"results/{model}/representation/{representation}/{name}.parquet"


def representation_table(name: str, model="{model}") -> str:
    """One of ``REPRESENTATION_TABLES`` across the representations (CSV); those in
    ``REPRESENTATION_FIGURES`` have a figure of their name."""
    if name not in REPRESENTATION_TABLES:
        raise KeyError(f"{name!r} is not one of the representation tables {REPRESENTATION_TABLES}")
    return f"results/{model}/tables/{name}.csv"


REPRESENTATION_FIGURES = ("separability", "selectivity", "feature_reuse", "cluster_separation")
REPRESENTATION_TABLES = (*REPRESENTATION_FIGURES, "cluster_pairwise")


# Cross-modal stitching (issue 17): image features of one image source, and
# per representation the scores of its text-to-image map.
IMAGE_SOURCES = ("digits", "cifar100")


def image_features_dir(images="{images}") -> str:
    """``image_features_file_name`` (features and labels), ``meta.json`` and, for
    the digits, the small encoder trained on them (``encoder.safetensors``)."""
    if images not in IMAGE_SOURCES and images != "{images}":
        raise KeyError(f"{images!r} is not one of the image sources {IMAGE_SOURCES}")
    return f"results/crossmodal/{images}"


def image_features_file_name() -> str:
    return "features.npz"


def stitching_file(model="{model}", representation="{representation}") -> str:
    """One representation job's stitching scores (the residual's raw and logreg rows, or an SAE's)."""
    return f"results/{model}/crossmodal/{representation}.parquet"


def stitching_table(model="{model}") -> str:
    """The stitching scores across representations (CSV), with the figure ``crossmodal_stitching``."""
    return f"results/{model}/tables/crossmodal_stitching.csv"


# Multi-token probes (SAE-Probes): per dataset, the residual and each SAE's
# codes pooled over every token of a prompt; never the token tensor itself.
POOLINGS = ("mean", "max")


def pooled_dir(model="{model}", dataset="{dataset}") -> str:
    """``pooled_residual_file_name`` and ``pooled_latents_file_name`` per pooling and SAE."""
    return f"results/{model}/multitoken/{dataset}/pooled"


def pooled_residual_file_name(pooling="{pooling}") -> str:
    """In ``pooled_dir``: ``[rows, d_model]`` float32, the residual pooled over a prompt's tokens."""
    return f"residual_{pooling}.npy"


def pooled_latents_file_name(sae="{sae}", pooling="{pooling}") -> str:
    """In ``pooled_dir``: the SAE's codes pooled over a prompt's tokens (scipy sparse CSR)."""
    return f"{sae}_{pooling}.npz"


def multitoken_probe_file(model="{model}", dataset="{dataset}", pooling="{pooling}") -> str:
    """The normal setting's baselines and SAE probes on one pooling of one dataset."""
    return f"results/{model}/multitoken/{dataset}/probes_{pooling}.parquet"


def multitoken_table(model="{model}") -> str:
    """Pooled probes beside the last-token probes of the same methods (CSV), with the figure ``multi_token``."""
    return f"results/{model}/tables/multi_token.csv"


def llm_cache_dir() -> str:
    """The LLM response cache; not a rule output, so no rerun pays for a reply twice."""
    return "resources/llm_cache"


def setting_table(model="{model}", setting="{setting}", suffix: str = ".parquet") -> str:
    """The results table of a setting (``.parquet``, or its ``.csv`` twin)."""
    return f"results/{model}/tables/{setting}{suffix}"


def autointerp_table(model="{model}", suffix: str = ".parquet") -> str:
    """Every interpreted latent of the model's SAEs (``.parquet``, or its ``.csv`` twin)."""
    return f"results/{model}/tables/autointerp{suffix}"


def dataset_analysis_table(model="{model}", analysis="{analysis}", suffix: str = ".parquet") -> str:
    """A per-dataset analysis (``DATASET_ANALYSES``) over every analysed SAE and
    dataset (``.parquet``, or its ``.csv`` twin); its figure is ``figure(model, f"autointerp_{analysis}")``."""
    return f"results/{model}/tables/autointerp_{analysis}{suffix}"


def autointerp_scores_table(model="{model}") -> str:
    """Per SAE: autointerp_score (mean detection accuracy), its spread, latents scored and skipped."""
    return f"results/{model}/tables/autointerp_scores.csv"


# The comparisons across settings, each a CSV of summary_tables.
SUMMARY_TABLES = ("comparison", "win_rates", "quiver", "quiver_reference")


def summary_table(model="{model}", name="{name}") -> str:
    return f"results/{model}/tables/{name}.csv"


def sae_metrics_table(model="{model}") -> str:
    return f"results/{model}/tables/sae_metrics.csv"


def figure(model="{model}", name="{name}") -> str:
    return f"results/{model}/figures/{name}.png"


def setting_figure_name(axis="{axis}") -> str:
    """The figure of AUC against a setting's grid, by its ``Figure.name``."""
    return f"auc_vs_{axis}"


# Each rule's jobs log to logs/<stem>.log and benchmark to logs/<stem>.bench.tsv.
_JOB_STEMS = {
    "datasets_prepare": "datasets/{dataset}",
    "datasets_prepare_ood": "datasets/ood/{dataset}",
    "datasets_reference_catalog": "datasets/reference_catalog",
    "datasets_rejected": "datasets/rejected",
    "model_prepare": "{model}/model_prepare",
    "activations_extract": "{model}/activations/{dataset}",
    "activations_extract_ood": "{model}/activations/ood/{dataset}",
    "activations_corpus_text": "{model}/corpus/shard_{shard}",
    "sae_train": "{model}/saes/{sae}",
    "sae_import": "{model}/saes/{sae}",
    "sae_evaluate": "{model}/saes/{sae}.evaluate",
    "sae_reference_cross_entropy": "{model}/saes/reference_cross_entropy_layer_{layer}",
    "sae_encode": "{model}/latents/{sae}/{dataset}",
    "sae_encode_ood": "{model}/latents/{sae}/ood/{dataset}",
    "probe_baselines": "{model}/probes/{setting}/{dataset}/baselines_layer_{layer}",
    "probe_sae": "{model}/probes/{setting}/{dataset}/sae_{sae}",
    "interpret_corpus": "{model}/interpret/corpus",
    "interpret_examples": "{model}/interpret/{sae}",
    "autointerp_detection": "{model}/autointerp/{sae}",
    "autointerp_table": "{model}/tables/autointerp",
    "autointerp_describe": "{model}/autointerp/{sae}/{dataset}",
    "autointerp_dataset_tables": "{model}/tables/autointerp_datasets",
    "figure_dataset_analysis": "{model}/figures/autointerp_{analysis}",
    "figure_autointerp_scores": "{model}/figures/autointerp_scores",
    "sensitivity_generate": "{model}/sensitivity/{sae}.generate",
    "sensitivity_score": "{model}/sensitivity/{sae}.score",
    "sensitivity_table": "{model}/tables/sensitivity",
    "figure_sensitivity": "{model}/figures/sensitivity",
    "sequence_corpus": "{model}/sequences/{split}/shard_{shard}",
    "part_of_speech": "part_of_speech",
    "temporal_smoothness": "{model}/temporal/{sae}.smoothness",
    "chunk_probe": "{model}/temporal/{representation}.chunk_probing",
    "temporal_tsne": "{model}/temporal/{sae}.tsne",
    "temporal_alignment": "{model}/temporal/{sae}.alignment",
    "representation_analysis": "{model}/representation/{representation}",
    "representation_tables": "{model}/tables/representation",
    "figure_representation": "{model}/figures/{name}",
    "crossmodal_images": "crossmodal/{images}",
    "crossmodal_stitch": "{model}/crossmodal/{representation}",
    "crossmodal_table": "{model}/tables/crossmodal_stitching",
    "figure_crossmodal": "{model}/figures/crossmodal_stitching",
    "multitoken_pool": "{model}/multitoken/{dataset}/pooled",
    "multitoken_probe": "{model}/multitoken/{dataset}/probes_{pooling}",
    "multitoken_table": "{model}/tables/multi_token",
    "figure_multitoken": "{model}/figures/multi_token",
    "smoothness_table": "{model}/tables/smoothness",
    "chunk_probing_table": "{model}/tables/chunk_probing",
    "alignment_table": "{model}/tables/alignment",
    "figure_smoothness": "{model}/figures/smoothness",
    "figure_chunk_probing": "{model}/figures/chunk_probing",
    "figure_tsne": "{model}/figures/tsne_{sae}",
    "aggregate_setting": "{model}/tables/{setting}",
    "summary_tables": "{model}/tables/summary",
    "aggregate_sae_metrics": "{model}/tables/sae_metrics",
    "figure_auc_vs_k": "{model}/figures/auc_vs_k",
    "figure_auc_vs_setting": "{model}/figures/auc_vs_{axis}",
    "figure_baselines_by_layer": "{model}/figures/baselines_by_layer",
    "figure_win_rates": "{model}/figures/win_rates",
    "figure_fve_vs_l0": "{model}/figures/fve_vs_l0",
}


def _job_stem(rule: str) -> str:
    if rule not in _JOB_STEMS:
        raise KeyError(f"rule {rule!r} has no log path; add it to saeprobe.paths._JOB_STEMS")
    return _JOB_STEMS[rule]


def job_log(rule: str) -> str:
    """The log pattern of ``rule``'s jobs."""
    return f"logs/{_job_stem(rule)}.log"


def job_benchmark(rule: str) -> str:
    """The Snakemake benchmark pattern of ``rule``'s jobs."""
    return f"logs/{_job_stem(rule)}.bench.tsv"


def rules_of_benchmark(path: str) -> list[str]:
    """The rules whose benchmark pattern a file under ``logs/`` matches, the
    most specific pattern winning (``{sae}.evaluate`` over ``{sae}``); two
    rules share a pattern where an SAE is either trained or imported."""
    def literal_length(rule):
        return len(re.sub(r"\{\w+\}", "", job_benchmark(rule)))

    matches = [rule for rule in _JOB_STEMS
               if re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(job_benchmark(rule))), str(path))]
    most = max(map(literal_length, matches), default=0)
    return [rule for rule in matches if literal_length(rule) == most]
