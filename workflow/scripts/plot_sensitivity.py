"""Figure: feature sensitivity of every measured latent, by SAE."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_sensitivity

log = job_logger(snakemake.log[0])
latents = pd.read_parquet(snakemake.input[0])
plot_sensitivity(latents, snakemake.output[0], model=snakemake.wildcards.model)
log.info("plotted %d latents of %d SAEs", len(latents), latents["sae"].nunique())
