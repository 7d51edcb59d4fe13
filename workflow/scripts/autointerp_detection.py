"""Explain an SAE's sampled latents and score each explanation by detection."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.autointerp.detection import score_latents
from saeprobe.interpret.examples import first_drawn
from saeprobe.llm.explainer import build_explainer
from saeprobe.logs import job_logger

log = job_logger(snakemake.log[0], snakemake.threads)
settings = snakemake.params.explainer
explainer = build_explainer(settings, snakemake.params.cache_dir, snakemake.input.explainer_model)
examples = pd.read_parquet(snakemake.input.examples)
examples = first_drawn(examples, snakemake.params.latents)  # sensitivity may want more
scores = score_latents(examples, explainer, snakemake.params.seed)
scores.insert(0, "sae", snakemake.wildcards.sae)
write_table(snakemake.output[0], scores)
log.info("%s: %d latents, %d scored, mean detection accuracy %.3f; %s", snakemake.wildcards.sae, len(scores),
         scores["score"].notna().sum(), scores["score"].mean(), explainer.stats)
