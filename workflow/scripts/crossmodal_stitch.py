"""Stitching scores of one text representation (the residual's raw and logreg, or an SAE's latents) to image features."""

from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.crossmodal.concepts import concept_rows, stitching_rows
from saeprobe.encoding import load_latents
from saeprobe.logs import job_logger
from saeprobe.paths import RESIDUAL, activation_file_name, image_features_file_name

log = job_logger(snakemake.log[0], snakemake.threads)
kind, layer, settings = snakemake.wildcards.representation, snakemake.params.layer, snakemake.params.settings
labels = {Path(f).stem: pd.read_parquet(f, columns=["label"])["label"].to_numpy() for f in snakemake.input.datasets}
concepts = concept_rows(labels, settings["per_concept"], settings["max_concepts"], settings["seed"])
if kind == RESIDUAL:
    matrices = {Path(f).name: np.load(Path(f) / activation_file_name(layer), mmap_mode="r")
                for f in snakemake.input.activations if Path(f).name in concepts}
else:
    matrices = {Path(f).stem: load_latents(f).toarray() for f in snakemake.input.latents if Path(f).stem in concepts}
with np.load(Path(snakemake.input.images) / image_features_file_name()) as images:
    features, image_labels = images["features"], images["labels"]
rows = stitching_rows(kind, matrices, concepts, features, image_labels, settings["per_concept"] // 2,
                      settings["logistic_top"], settings["firing_filter"], settings["n_pairings"], settings["alpha"],
                      settings["seed"])
table = pd.DataFrame(rows).assign(layer=layer, images=settings["images"])
write_table(snakemake.output[0], table)
log.info("%s at layer %d, %d concepts:\n%s", kind, layer, len(concepts),
         table[["representation", "n_dims", "accuracy_mean", "shuffled_accuracy_mean", "chance"]])
