"""Figure: OOD AUC of the top-n latents, in the probes' order and in the explainer's."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_ood_pruning

log = job_logger(snakemake.log[0])
table = pd.read_csv(snakemake.input[0])
plot_ood_pruning(table, snakemake.output[0], title=f"{snakemake.wildcards.model}: OOD AUC of the top-n latents")
log.info("plotted %d rows", len(table))
