"""kurexi's per-dataset analyses of one SAE's latents: descriptions, OOD pruning, audit."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.autointerp.descriptions import OOD_TASKS, dataset_latent_analyses
from saeprobe.encoding import load_latents
from saeprobe.llm.explainer import build_explainer
from saeprobe.logs import job_logger

log = job_logger(snakemake.log[0], snakemake.threads)
spec, dataset = snakemake.params.spec, snakemake.wildcards.dataset
explainer = build_explainer(snakemake.params.explainer, snakemake.params.cache_dir, snakemake.input.explainer_model)
rows = pd.read_parquet(snakemake.input.dataset, columns=["text", "label"])
ood = None
if "ood_latents" in snakemake.input.keys():
    ood_rows = pd.read_parquet(snakemake.input.ood_dataset, columns=["label"])
    ood = (load_latents(snakemake.input.ood_latents), ood_rows["label"].to_numpy())
analyses = dataset_latent_analyses(
    load_latents(snakemake.input.latents), rows["label"].to_numpy(), rows["text"].tolist(), explainer,
    top_latents=spec["top_latents"], candidates=spec["candidates"], ranking=snakemake.params.ranking,
    engine=snakemake.params.engine, ood=ood, ood_task=OOD_TASKS.get(dataset) if ood else None,
    audit=dataset in spec["audit_datasets"],
)
for analysis, frame in analyses.items():
    frame = frame if frame is not None else pd.DataFrame()
    frame.insert(0, "dataset", dataset)  # an analysis that does not apply is an empty table
    frame.insert(0, "sae", snakemake.wildcards.sae)
    write_table(snakemake.output[analysis], frame)
    log.info("%s:\n%s", analysis, frame.to_string())
log.info("%s", explainer.stats)
