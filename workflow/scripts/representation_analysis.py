"""One representation's analyses over the probed datasets: the residual (raw and logreg) or an SAE's latents."""

from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.encoding import load_latents
from saeprobe.logs import job_logger
from saeprobe.paths import RESIDUAL, activation_file_name
from saeprobe.representation.analysis import DatasetRows, RepresentationSettings, analyse
from saeprobe.splits import normal_split

log = job_logger(snakemake.log[0], snakemake.threads)
representation = snakemake.wildcards.representation
given = snakemake.params.settings
settings = RepresentationSettings(**{key: given[key] for key in ("firing_filter", "logistic_top", "salient_top",
                                                                 "selectivity_top", "cluster_positives",
                                                                 "sae_auc_latents", "seed")},
                                  engine=snakemake.params.engine)
labels = {Path(f).stem: pd.read_parquet(f, columns=["label"])["label"].to_numpy() for f in snakemake.input.datasets}

results = {name: [] for name in snakemake.output.keys()}
for layer in snakemake.params.layers:
    if representation == RESIDUAL:
        matrices = {Path(f).name: np.load(Path(f) / activation_file_name(layer)) for f in snakemake.input.activations}
    else:
        matrices = {Path(f).stem: load_latents(f).toarray() for f in snakemake.input.latents}
    datasets = {name: DatasetRows(matrices[name], y, *normal_split(y)) for name, y in labels.items()}
    for name, table in zip(("datasets", "clusters", "pairwise"), analyse(representation, datasets, settings)):
        results[name].append(table.assign(layer=layer))
    log.info("%s at layer %d: %d datasets", representation, layer, len(datasets))
for name, tables in results.items():
    write_table(snakemake.output[name], pd.concat(tables, ignore_index=True))
