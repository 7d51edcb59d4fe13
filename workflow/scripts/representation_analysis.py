"""One representation's analyses over the probed datasets: the residual (raw and logreg) or an SAE's latents."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.logs import job_logger
from saeprobe.paths import RESIDUAL
from saeprobe.representation.analysis import (DatasetRows, RepresentationSettings, analyse, dataset_labels,
                                              representation_matrices)
from saeprobe.splits import normal_split

log = job_logger(snakemake.log[0], snakemake.threads)
representation = snakemake.wildcards.representation
given = snakemake.params.settings
settings = RepresentationSettings(**{key: given[key] for key in ("firing_filter", "logistic_top", "salient_top",
                                                                 "selectivity_top", "cluster_positives",
                                                                 "sae_auc_latents", "seed")},
                                  engine=snakemake.params.engine)
labels = dataset_labels(snakemake.input.datasets)
sources = snakemake.input.activations if representation == RESIDUAL else snakemake.input.latents

results = {name: [] for name in snakemake.output.keys()}
for layer in snakemake.params.layers:
    matrices = representation_matrices(representation, sources, layer)
    datasets = {name: DatasetRows(matrices[name], y, *normal_split(y)) for name, y in labels.items()}
    for name, table in zip(("datasets", "clusters", "pairwise"), analyse(representation, datasets, settings)):
        results[name].append(table.assign(layer=layer))
    log.info("%s at layer %d: %d datasets", representation, layer, len(datasets))
for name, tables in results.items():
    write_table(snakemake.output[name], pd.concat(tables, ignore_index=True))
