"""Explain an SAE's sampled latents and score each explanation by detection."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.autointerp.detection import score_latents
from saeprobe.llm.explainer import build_explainer
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir

log = job_logger(snakemake.log[0], snakemake.threads)
settings = snakemake.params.explainer
offline = checkpoint_dir(snakemake.input.explainer_model[0]) if snakemake.input.explainer_model else None
explainer = build_explainer(settings, snakemake.params.cache_dir, offline)
examples = pd.read_parquet(snakemake.input.examples)
examples = examples[examples["draw"] < snakemake.params.latents]  # the first of the draw; sensitivity may want more
scores = score_latents(examples, explainer, snakemake.params.seed)
scores.insert(0, "sae", snakemake.wildcards.sae)
write_table(snakemake.output[0], scores)
log.info("%s: %d latents, %d scored, mean detection accuracy %.3f; %s", snakemake.wildcards.sae, len(scores),
         scores["score"].notna().sum(), scores["score"].mean(), explainer.stats)
