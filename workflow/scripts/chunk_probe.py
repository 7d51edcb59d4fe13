"""Chunk probing of one SAE's high, low and all latents, or of the residual:
domain, part of speech and context, each by a logistic probe."""

from pathlib import Path

import pandas as pd

from saeprobe.atomic import atomic_path, read_json
from saeprobe.logs import job_logger
from saeprobe.paths import RESIDUAL
from saeprobe.saes import load_sae
from saeprobe.temporal.chunk_probing import (chunk_probe_table, context_task, last_token_vectors, prompt_sample,
                                             sae_chunks)
from saeprobe.temporal.sequences import heldout_sequences

log = job_logger(snakemake.log[0], snakemake.threads)
settings, layer = snakemake.params.settings, snakemake.params.layer
name = snakemake.wildcards.representation
sae = None if name == RESIDUAL else load_sae(Path(snakemake.input.sae[0]).parent).eval()


def representations(x):
    return {RESIDUAL: x} if sae is None else sae_chunks(sae, x)


prompts = prompt_sample(pd.read_parquet(snakemake.input.part_of_speech), settings["vectors"], settings["seed"])
vectors = last_token_vectors(prompts, snakemake.input.activations, layer)
prompt_codes = representations(vectors)
tables = [chunk_probe_table("semantics", prompt_codes, prompts["dataset"].to_numpy(), settings["seed"],
                            settings["features_per_class"])]
tagger = read_json(Path(snakemake.input.part_of_speech).with_suffix(".json"))
if tagger["tagger"]:
    tables.append(chunk_probe_table("syntax", prompt_codes, prompts["pos"].to_numpy(), settings["seed"],
                                    settings["features_per_class"]))
else:
    log.warning("syntax task left out: %s", tagger["skipped"])
sequences, _ = heldout_sequences(snakemake.input.heldout, layer)
x, document = context_task(sequences, settings["context_rows"], settings["context_tokens"], settings["seed"])
tables.append(chunk_probe_table("context", representations(x), document, settings["seed"],
                                settings["features_per_class"]))
table = pd.concat(tables, ignore_index=True).assign(sae="" if sae is None else name, layer=layer,
                                                    tagger=tagger["tagger"] or "")
with atomic_path(snakemake.output[0]) as tmp:
    table.to_parquet(tmp, index=False)
log.info("%s at layer %d:\n%s", name, layer, table[["task", "representation", "test_accuracy", "n_features"]])
