"""Top-k SAE latent probes on one dataset, for every k (normal setting)."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.encoding import load_latents
from saeprobe.logs import job_logger
from saeprobe.probing import sae_probes_normal

log = job_logger(snakemake.log[0], snakemake.threads)
labels = pd.read_parquet(snakemake.input.dataset, columns=["label"])["label"].to_numpy()
table = sae_probes_normal(
    load_latents(snakemake.input.latents), labels, ks=snakemake.params.ks, ranking=snakemake.params.ranking,
    engine=snakemake.params.engine,
    model=snakemake.wildcards.model, dataset=snakemake.wildcards.dataset,
    layer=snakemake.params.layer, sae=snakemake.wildcards.sae,
)
write_table(snakemake.output[0], table)
log.info("\n%s", table.to_string())
