"""Figure: each baseline's mean test AUC against layer (normal setting)."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_baselines_by_layer

log = job_logger(snakemake.log[0])
table = pd.read_parquet(snakemake.input[0])
plot_baselines_by_layer(table, snakemake.output[0], title=f"{snakemake.wildcards.model}: baselines by layer")
log.info("plotted %d rows", len(table))
