"""Last-token activations of one dataset (and its training prompts' tokens for SAE corpora)."""

import time

import numpy as np
import pandas as pd

from saeprobe.activations import ResidualExtractor, drop_norm_outliers, write_activation_folder
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir, load_model
from saeprobe.splits import normal_split

log = job_logger(snakemake.log[0], snakemake.threads)
settings = snakemake.params.model
corpus_layers = snakemake.params.corpus_layers
frame = pd.read_parquet(snakemake.input.dataset)

model, tokenizer = load_model(checkpoint_dir(snakemake.input.model), settings["dtype"])
extractor = ResidualExtractor(model, tokenizer, settings["layers"], settings["max_seq_len"],
                              settings["batch_size"], settings["chat_template"])
token_mask = None
if corpus_layers:  # SAE corpora see training-split prompts only, never test prompts
    token_mask = np.zeros(len(frame), bool)
    token_mask[normal_split(frame["label"].to_numpy())[0]] = True

start = time.perf_counter()
result = extractor.extract(frame["text"].tolist(), token_mask)
seconds = time.perf_counter() - start
corpus = {layer: drop_norm_outliers(result.tokens[layer], snakemake.params.max_norm_ratio) for layer in corpus_layers}
write_activation_folder(
    snakemake.output[0], result.last_token, corpus,
    meta={"rows": len(frame), "layers": settings["layers"], "tokens": result.n_tokens,
          "corpus_rows": {layer: len(v) for layer, v in corpus.items()}},  # no wall time: results stay reproducible
)
log.info("%d prompts, %d tokens in %.1fs (%.0f tok/s); corpus rows %s", len(frame), result.n_tokens,
         seconds, result.n_tokens / seconds, {layer: len(v) for layer, v in corpus.items()})
