"""Figure: detection accuracy of every interpreted latent, by SAE."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_autointerp_scores

log = job_logger(snakemake.log[0])
latents = pd.read_parquet(snakemake.input[0])
plot_autointerp_scores(latents, snakemake.output[0], model=snakemake.wildcards.model)
log.info("plotted %d latents of %d SAEs", len(latents), latents["sae"].nunique())
