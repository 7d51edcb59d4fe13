"""Figure: fraction of variance explained against L0, one point per SAE."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_fve_vs_l0

log = job_logger(snakemake.log[0])
table = pd.read_csv(snakemake.input[0])
plot_fve_vs_l0(table, snakemake.output[0], title=f"{snakemake.wildcards.model}: SAE quality on held-out activations")
log.info("plotted %d SAEs", len(table))
