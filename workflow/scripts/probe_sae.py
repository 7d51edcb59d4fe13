"""One SAE's top-k latent probes on one dataset, for every k and every grid value of a setting."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.encoding import load_latents
from saeprobe.logs import job_logger
from saeprobe.probing import sae_probe_table
from saeprobe.settings import setting

log = job_logger(snakemake.log[0], snakemake.threads)


def latents_and_labels(features: str, dataset: str):
    return load_latents(features), pd.read_parquet(dataset, columns=["label"])["label"].to_numpy()


X, labels = latents_and_labels(snakemake.input.features, snakemake.input.dataset)
ood = None
if setting(snakemake.wildcards.setting).uses_ood_data:
    ood = latents_and_labels(snakemake.input.ood_features, snakemake.input.ood_dataset)
table = sae_probe_table(
    X, labels, ks=snakemake.params.ks, setting=snakemake.wildcards.setting,
    grid=snakemake.params.grid, ood=ood, ranking=snakemake.params.ranking,
    engine=snakemake.params.engine,
    model=snakemake.wildcards.model, dataset=snakemake.wildcards.dataset,
    layer=snakemake.params.layer, sae=snakemake.wildcards.sae,
)
write_table(snakemake.output[0], table)
log.info("\n%s", table.to_string())
