"""The t-SNE map of one SAE's codes: prompts by domain and part of speech, held-out tokens by document."""

from pathlib import Path

import pandas as pd

from saeprobe.atomic import atomic_path
from saeprobe.logs import job_logger
from saeprobe.saes import load_sae
from saeprobe.temporal.chunk_probing import (context_task, last_token_vectors, prompt_sample, sae_chunks,
                                             tsne_embedding)
from saeprobe.temporal.sequences import heldout_sequences
from saeprobe.temporal.smoothness import sae_groups

log = job_logger(snakemake.log[0], snakemake.threads)
settings, layer = snakemake.params.settings, snakemake.params.layer
sae = load_sae(Path(snakemake.input.sae).parent).eval()
chunk = "high" if "h" in sae_groups(sae) else "all"

prompts = prompt_sample(pd.read_parquet(snakemake.input.part_of_speech), settings["tsne_points"], settings["seed"])
vectors = last_token_vectors(prompts, snakemake.input.activations, layer)
sequences, _ = heldout_sequences(snakemake.input.heldout, layer)
tokens, document = context_task(sequences, settings["context_rows"], settings["context_tokens"], settings["seed"])

maps = []
for codes, labels in ((sae_chunks(sae, vectors)[chunk], {"domain": prompts["dataset"], "pos": prompts["pos"]}),
                      (sae_chunks(sae, tokens)[chunk], {"document": pd.Series(document).astype(str)})):
    xy = tsne_embedding(codes, settings["seed"])
    for colour, label in labels.items():
        maps.append(pd.DataFrame({"colour": colour, "label": label.to_numpy(), "x": xy[:, 0], "y": xy[:, 1]}))
points = pd.concat(maps, ignore_index=True).assign(sae=snakemake.wildcards.sae, chunk=chunk)
with atomic_path(snakemake.output[0]) as tmp:
    points.to_parquet(tmp, index=False)
log.info("t-SNE of the %s chunk: %d prompts, %d held-out tokens", chunk, len(prompts), len(tokens))
