"""Every measured latent of a model's SAEs in one table, and each SAE's sensitivity."""

import pandas as pd

from saeprobe.atomic import read_json, write_table
from saeprobe.logs import job_logger
from saeprobe.sensitivity.scoring import sae_sensitivity

log = job_logger(snakemake.log[0])
frames = []
for sae, stats, queries, cfg in zip(snakemake.params.saes, snakemake.input.stats, snakemake.input.queries,
                                    snakemake.input.sae_configs):
    stats = pd.read_csv(stats)
    explainers = pd.read_csv(queries).set_index("feature_index")["explainer"]
    stats.insert(0, "sae", sae)
    stats.insert(1, "architecture", read_json(cfg)["architecture"])
    stats["explainer"] = stats["feature_index"].map(explainers)
    frames.append(stats)
latents = pd.concat(frames, ignore_index=True)
latents.insert(0, "model", snakemake.wildcards.model)
write_table(snakemake.output.latents, latents)
write_table(snakemake.output.latents_csv, latents)
scores = sae_sensitivity(latents)
write_table(snakemake.output.scores, scores)
log.info("\n%s", scores.to_string())
