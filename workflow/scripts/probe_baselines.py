"""Every baseline of a setting on one dataset's raw activations at one layer, every grid value."""

import time
from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.logs import job_logger
from saeprobe.paths import activation_file_name
from saeprobe.probing import baseline_table
from saeprobe.settings import setting

log = job_logger(snakemake.log[0], snakemake.threads)
layer = int(snakemake.wildcards.layer)


def activations_labels_texts(features: str, dataset: str):
    rows = pd.read_parquet(dataset, columns=["label", "text"])
    return np.load(Path(features) / activation_file_name(layer)), rows["label"].to_numpy(), rows["text"].to_numpy()


X, labels, texts = activations_labels_texts(snakemake.input.features, snakemake.input.dataset)
ood, ood_texts = None, None
if setting(snakemake.wildcards.setting).uses_ood_data:
    X_ood, labels_ood, ood_texts = activations_labels_texts(snakemake.input.ood_features, snakemake.input.ood_dataset)
    ood = (X_ood, labels_ood)
tables = []
for method in snakemake.params.baselines:
    started = time.perf_counter()
    tables.append(baseline_table(
        method, X, labels, setting=snakemake.wildcards.setting, grid=snakemake.params.grid, ood=ood,
        engine=snakemake.params.engine, n_jobs=snakemake.threads, texts=(texts, ood_texts),
        model=snakemake.wildcards.model, dataset=snakemake.wildcards.dataset, layer=layer,
    ))
    log.info("%s: %.1f s", method, time.perf_counter() - started)
table = pd.concat(tables, ignore_index=True)
write_table(snakemake.output[0], table)
log.info("\n%s", table.to_string())
