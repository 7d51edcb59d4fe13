"""One shard of the sequence corpus: rows of consecutive tokens and their activations, BOS left out."""

import random
from pathlib import Path

import numpy as np
import pandas as pd

from saeprobe.activations import ResidualExtractor
from saeprobe.atomic import atomic_dir, write_json
from saeprobe.datasets import read_corpus_texts
from saeprobe.interpret.corpus import PROBE_PROMPTS, row_start_token
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir, load_model
from saeprobe.paths import (corpus_tokens_file_name, sequence_file_name, sequence_rows_file_name,
                            sequence_valid_file_name)
from saeprobe.splits import normal_split
from saeprobe.temporal.corpus import heldout_documents, interleaved_rows, shard_rows
from saeprobe.temporal.sequences import sequence_rows

log = job_logger(snakemake.log[0], snakemake.threads)
spec, settings = snakemake.params.corpus, snakemake.params.model
split, shard = snakemake.wildcards.split, int(snakemake.wildcards.shard)
heldout = split == "heldout"
rng = random.Random(spec["seed"])

model, tokenizer = load_model(checkpoint_dir(snakemake.input.model), settings["dtype"])
if spec["source"] == PROBE_PROMPTS:  # one document per dataset: its prompts of the split, in a seeded order
    texts = {}
    for path in snakemake.input.datasets:
        frame = pd.read_parquet(path, columns=["text", "label"])
        prompts = frame["text"].iloc[normal_split(frame["label"].to_numpy())[int(heldout)]].tolist()
        rng.shuffle(prompts)
        texts[Path(path).stem] = prompts
else:
    documents = read_corpus_texts(spec["source"])
    rng.shuffle(documents)
    texts = {"corpus": heldout_documents(documents, heldout)}
ids = {name: tokenizer(prompts, add_special_tokens=False)["input_ids"] for name, prompts in texts.items()}
n_rows = snakemake.params.rows
rows, sources = interleaved_rows(ids, spec["length"] + 1, n_rows, row_start_token(tokenizer), tokenizer.eos_token_id)
mine = shard_rows(len(rows), shard, snakemake.params.num_shards)
rows, sources = rows[mine], [sources[i] for i in mine]

extractor = ResidualExtractor(model, tokenizer, snakemake.params.layers, batch_size=settings["batch_size"])
activations = extractor.token_row_activations(rows, dtype=np.float32)
with atomic_dir(snakemake.output[0]) as staging:
    np.save(staging / corpus_tokens_file_name(), rows[:, 1:])
    masked = {}
    for layer, array in activations.items():
        body, valid = sequence_rows(array, snakemake.params.max_norm_ratio)
        np.save(staging / sequence_file_name(layer), np.ascontiguousarray(body))
        np.save(staging / sequence_valid_file_name(layer), valid)
        masked[layer] = int((~valid).sum())
    pd.DataFrame({"row": np.arange(len(rows)), "source": sources}).to_parquet(staging / sequence_rows_file_name())
    write_json(staging / "meta.json", {"split": split, "shard": shard, "rows": len(rows), "length": spec["length"],
                                       "masked_tokens": masked})
log.info("%s shard %d: %d rows of %d tokens from %d sources; masked outliers per layer %s", split, shard, len(rows),
         spec["length"], len(set(sources)), masked)
