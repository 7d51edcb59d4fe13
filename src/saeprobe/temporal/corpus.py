"""Which tokens the sequence corpus holds: rows of consecutive tokens cut from
documents, the training and held-out rows from disjoint documents.

From the probed datasets' prompts (the offline default), each dataset's
prompts of one split are joined into its document, so that a row stays
within one domain, and rows are taken from the datasets in turn. From a text
corpus, documents are joined as SAEBench joins them and every tenth document
is held out.
"""

from __future__ import annotations

import numpy as np

from saeprobe.interpret.corpus import token_rows

HELDOUT_EVERY = 10
"""Every tenth document of a text corpus is held out."""


def interleaved_rows(documents_by_source: dict[str, list[list[int]]], ctx: int, n_rows: int, bos_id: int,
                     eos_id: int) -> tuple[np.ndarray, list[str]]:
    """``[rows, ctx]`` token ids and each row's source: every source's documents
    (token id lists) joined with EOS and cut into BOS-prefixed rows
    (``token_rows``), the rows then taken from the sources in turn, at most
    ``n_rows`` of them."""
    per_source = {name: token_rows(docs, ctx, n_rows, bos_id, eos_id) for name, docs in documents_by_source.items()}
    rows, sources = [], []
    for i in range(max((len(r) for r in per_source.values()), default=0)):
        for name, source_rows in per_source.items():
            if i < len(source_rows) and len(rows) < n_rows:
                rows.append(source_rows[i])
                sources.append(name)
    if not rows:
        raise ValueError(f"the documents hold no row of {ctx} tokens")
    return np.stack(rows), sources


def heldout_documents(documents: list[str], heldout: bool) -> list[str]:
    """The held-out (every ``HELDOUT_EVERY``-th) or the training documents of a text corpus."""
    return [d for i, d in enumerate(documents) if (i % HELDOUT_EVERY == 0) == heldout]


def shard_rows(n_rows: int, shard: int, num_shards: int) -> np.ndarray:
    """The indices of the rows that shard ``shard`` of ``num_shards`` holds."""
    if not 0 <= shard < num_shards:
        raise ValueError(f"shard {shard} is not one of 0..{num_shards - 1}")
    return np.arange(shard, n_rows, num_shards)
