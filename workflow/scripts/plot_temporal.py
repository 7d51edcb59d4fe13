"""Figures of the temporal analyses: smoothness, chunk probing, an SAE's t-SNE map."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_chunk_probing, plot_smoothness, plot_tsne

log = job_logger(snakemake.log[0])
model = snakemake.wildcards.model
if snakemake.rule == "figure_tsne":
    plot_tsne(pd.read_parquet(snakemake.input[0]).fillna({"label": ""}), snakemake.output[0],
              title=f"{model}: t-SNE of {snakemake.wildcards.sae}'s codes")
else:
    table = pd.read_csv(snakemake.input[0])
    plot = plot_smoothness if snakemake.rule == "figure_smoothness" else plot_chunk_probing
    plot(table, snakemake.output[0], model=model)
log.info("%s: drawn from %s", snakemake.rule, snakemake.input[0])
