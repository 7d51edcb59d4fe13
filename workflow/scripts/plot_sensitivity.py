"""Figure: feature sensitivity of every measured latent, by SAE."""

import pandas as pd

from saeprobe.logs import job_logger
from saeprobe.report import plot_sensitivity

log = job_logger(snakemake.log[0])
latents = pd.read_parquet(snakemake.input[0])
explainers = ", ".join(sorted(latents["explainer"].dropna().unique()))
plot_sensitivity(latents, snakemake.output[0],
                 title=f"{snakemake.wildcards.model}: feature sensitivity, texts written by {explainers}")
log.info("plotted %d latents of %d SAEs", len(latents), latents["sae"].nunique())
