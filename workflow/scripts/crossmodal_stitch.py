"""Stitching scores of one text representation (the residual's raw and logreg, or an SAE's latents) to image features."""

from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.crossmodal.concepts import concept_rows, stitching_rows
from saeprobe.logs import job_logger
from saeprobe.paths import RESIDUAL, image_features_file_name
from saeprobe.representation.analysis import dataset_labels, representation_matrices

log = job_logger(snakemake.log[0], snakemake.threads)
kind, layer, settings = snakemake.wildcards.representation, snakemake.params.layer, snakemake.params.settings
concepts = concept_rows(dataset_labels(snakemake.input.datasets), settings["per_concept"], settings["max_concepts"],
                        settings["seed"])
sources = snakemake.input.activations if kind == RESIDUAL else snakemake.input.latents
matrices = representation_matrices(kind, sources, layer, names=concepts)
with np.load(Path(snakemake.input.images) / image_features_file_name()) as images:
    features, image_labels = images["features"], images["labels"]
rows = stitching_rows(kind, matrices, concepts, features, image_labels, settings["per_concept"] // 2,
                      settings["logistic_top"], settings["firing_filter"], settings["n_pairings"], settings["alpha"],
                      settings["seed"])
table = pd.DataFrame(rows).assign(layer=layer, images=settings["images"])
write_table(snakemake.output[0], table)
log.info("%s at layer %d, %d concepts:\n%s", kind, layer, len(concepts),
         table[["representation", "n_dims", "accuracy_mean", "shuffled_accuracy_mean", "chance"]])
