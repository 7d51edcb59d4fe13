"""Show the explainer each sampled latent's windows and have it write new texts of the same kind."""

import pandas as pd

from saeprobe.atomic import write_table
from saeprobe.interpret.examples import first_drawn
from saeprobe.llm.explainer import build_explainer
from saeprobe.logs import job_logger
from saeprobe.sensitivity.generation import feature_examples, generate_samples

log = job_logger(snakemake.log[0], snakemake.threads)
examples = pd.read_parquet(snakemake.input.examples)
examples = first_drawn(examples, snakemake.params.features)  # autointerp's latents are among them
shown = feature_examples(examples, snakemake.params.seed)
explainer = build_explainer(snakemake.params.explainer, snakemake.params.cache_dir, snakemake.input.explainer_model)
samples, queries = generate_samples(shown, explainer, snakemake.params.reply_tokens, snakemake.wildcards.sae,
                                    snakemake.params.eval_name)
write_table(snakemake.output.examples, shown)
write_table(snakemake.output.samples, samples)
write_table(snakemake.output.queries, queries)
log.info("%s: %d of %d sampled latents shown, %d samples written (%d replies held none); %s",
         snakemake.wildcards.sae, shown["feature_index"].nunique(), examples["latent"].nunique(), len(samples),
         int((queries["status"] == "Failed").sum()), explainer.stats)
