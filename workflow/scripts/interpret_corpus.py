"""The interpretation corpus: token rows and their activations at the interpreted SAEs' layers."""

import random

import numpy as np
import pandas as pd

from saeprobe.activations import ResidualExtractor
from saeprobe.atomic import atomic_dir, write_json
from saeprobe.datasets import read_corpus_texts
from saeprobe.interpret.corpus import PROBE_PROMPTS, row_start_token, token_rows
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir, load_model
from saeprobe.paths import activation_file_name, corpus_tokens_file_name
from saeprobe.splits import normal_split

log = job_logger(snakemake.log[0], snakemake.threads)
spec, settings = snakemake.params.corpus, snakemake.params.model
if spec["source"] != PROBE_PROMPTS:
    documents = read_corpus_texts(spec["source"])
else:  # the probed datasets' training prompts, never their test prompts
    documents = []
    for path in snakemake.input.datasets:
        frame = pd.read_parquet(path)
        documents += frame["text"].iloc[normal_split(frame["label"].to_numpy())[0]].tolist()
random.Random(snakemake.params.seed).shuffle(documents)  # rows mix the datasets

model, tokenizer = load_model(checkpoint_dir(snakemake.input.model), settings["dtype"])
ids = tokenizer(documents, add_special_tokens=False)["input_ids"]
rows = token_rows(ids, spec["context"], spec["rows"], row_start_token(tokenizer), tokenizer.eos_token_id)
extractor = ResidualExtractor(model, tokenizer, snakemake.params.layers, batch_size=settings["batch_size"])
activations = extractor.token_row_activations(rows)
with atomic_dir(snakemake.output[0]) as staging:
    np.save(staging / corpus_tokens_file_name(), rows)
    for layer, array in activations.items():
        np.save(staging / activation_file_name(layer), array)
    write_json(staging / "meta.json", {"documents": len(documents), "rows": len(rows), "context": spec["context"]})
log.info("%d documents -> %d rows of %d tokens; layers %s", len(documents), len(rows), spec["context"],
         sorted(activations))
