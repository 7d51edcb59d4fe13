"""Re-score the generated samples and the shown windows through the model and the SAE."""

from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.activations import ResidualExtractor
from saeprobe.atomic import write_table
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir, load_model
from saeprobe.saes import load_sae
from saeprobe.sensitivity.scoring import feature_stats, rescore

log = job_logger(snakemake.log[0], snakemake.threads)
settings, layer = snakemake.params.model, snakemake.params.layer
model, tokenizer = load_model(checkpoint_dir(snakemake.input.model), settings["dtype"])
sae = load_sae(Path(snakemake.input.sae).parent).eval()
extractor = ResidualExtractor(model, tokenizer, [layer], batch_size=settings["batch_size"])
samples = pd.read_csv(snakemake.input.samples, keep_default_na=False)
shown = pd.read_csv(snakemake.input.examples, keep_default_na=False)
generated = rescore(samples, "text", tokenizer, extractor, sae, layer)
original = rescore(shown, "Sequence", tokenizer, extractor, sae, layer)
stats = feature_stats(generated, original)
write_table(snakemake.output.generated, generated)
write_table(snakemake.output.original, original)
write_table(snakemake.output.stats, stats)
log.info("%s: %d generated and %d original texts re-scored; mean sensitivity %.3f generated, %.3f original",
         snakemake.wildcards.sae, len(generated), len(original),
         np.nanmean(stats["generated_sensitivity"]) if len(stats) else float("nan"),
         np.nanmean(stats["original_sensitivity"]) if len(stats) else float("nan"))
