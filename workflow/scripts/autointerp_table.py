"""Every interpreted latent of a model's SAEs in one table, and each SAE's autointerp score."""

import pandas as pd

from saeprobe.atomic import read_json, write_table
from saeprobe.autointerp.detection import sae_scores
from saeprobe.logs import job_logger

log = job_logger(snakemake.log[0])
architectures = {name: read_json(cfg)["architecture"]
                 for name, cfg in zip(snakemake.params.saes, snakemake.input.sae_configs)}
latents = pd.concat([pd.read_parquet(path) for path in snakemake.input.scores], ignore_index=True)
latents.insert(0, "model", snakemake.wildcards.model)
latents.insert(2, "architecture", latents["sae"].map(architectures))
write_table(snakemake.output.latents, latents)
write_table(snakemake.output.latents_csv, latents)
scores = sae_scores(latents)
write_table(snakemake.output.scores, scores)
log.info("\n%s", scores.to_string())
