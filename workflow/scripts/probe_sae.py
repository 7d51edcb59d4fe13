"""One SAE's top-k latent probes on one dataset, for every k and every grid value of a setting."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.encoding import load_latents
from saeprobe.logs import job_logger
from saeprobe.probing import sae_probe_table
from saeprobe.settings import setting

log = job_logger(snakemake.log[0], snakemake.threads)


def latents_labels_texts(features: str, dataset: str):
    rows = pd.read_parquet(dataset, columns=["label", "text"])
    return load_latents(features), rows["label"].to_numpy(), rows["text"].to_numpy()


X, labels, texts = latents_labels_texts(snakemake.input.features, snakemake.input.dataset)
ood, ood_texts = None, None
if setting(snakemake.wildcards.setting).uses_ood_data:
    X_ood, labels_ood, ood_texts = latents_labels_texts(snakemake.input.ood_features, snakemake.input.ood_dataset)
    ood = (X_ood, labels_ood)
table = sae_probe_table(
    X, labels, ks=snakemake.params.ks, setting=snakemake.wildcards.setting,
    grid=snakemake.params.grid, ood=ood, ranking=snakemake.params.ranking,
    engine=snakemake.params.engine, texts=(texts, ood_texts),
    model=snakemake.wildcards.model, dataset=snakemake.wildcards.dataset,
    layer=snakemake.params.layer, sae=snakemake.wildcards.sae,
)
write_table(snakemake.output[0], table)
log.info("\n%s", table.to_string())
