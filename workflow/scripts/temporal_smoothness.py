"""Smoothness metrics of one SAE over the held-out rows of the sequence corpus."""

from pathlib import Path

from saeprobe.atomic import write_json
from saeprobe.logs import job_logger
from saeprobe.saes import load_sae
from saeprobe.temporal.sequences import heldout_sequences
from saeprobe.temporal.smoothness import sae_groups, sae_smoothness

log = job_logger(snakemake.log[0], snakemake.threads)
sae = load_sae(Path(snakemake.input.sae).parent).eval()
sequences, left_out = heldout_sequences(snakemake.input.heldout, snakemake.params.layer)
groups = sae_groups(sae)
result = {"sae": snakemake.wildcards.sae, "architecture": sae.architecture, "width": sae.width,
          "high_latents": groups["h"].stop if "h" in groups else None, "sequences": len(sequences),
          "sequences_left_out": left_out, "length": sequences.shape[1], **sae_smoothness(sae, sequences)}
write_json(snakemake.output[0], result)
log.info("%d held-out sequences (%d left out for a masked outlier): %s", len(sequences), left_out, result)
