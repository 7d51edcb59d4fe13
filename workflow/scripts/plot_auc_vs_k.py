"""Figure: mean test AUC against k, SAE probes beside the activation baseline."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_auc_vs_k

log = job_logger(snakemake.log[0])
table = pd.read_parquet(snakemake.input[0])
plot_auc_vs_k(table, snakemake.output[0], title=f"{snakemake.wildcards.model}: SAE probes vs logistic regression")
log.info("plotted %d rows", len(table))
