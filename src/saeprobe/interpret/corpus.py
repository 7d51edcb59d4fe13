"""The token corpus over which latents are interpreted, cut as SAEBench cuts it
(``analysis-methods.md`` §1): documents joined with EOS and cut into rows of
``ctx`` tokens, each row opening with BOS."""

from __future__ import annotations

import numpy as np

PROBE_PROMPTS = "probe_prompts"
"""The corpus source that reads the probed datasets' training-split prompts."""


def token_rows(documents: list[list[int]], ctx: int, n_rows: int, bos_id: int, eos_id: int) -> np.ndarray:
    """``[rows, ctx]`` token ids: ``documents`` (token id lists) joined, each
    followed by ``eos_id``, and cut into ``ctx - 1``-token pieces, each
    prefixed with ``bos_id``. At most ``n_rows`` rows; a last partial piece is
    dropped, so every row is full."""
    if ctx < 2:
        raise ValueError(f"rows need at least 2 tokens (BOS and one more), got ctx={ctx}")
    stream = np.fromiter((t for doc in documents for t in (*doc, eos_id)), dtype=np.int64)
    body = ctx - 1
    rows = min(n_rows, len(stream) // body)
    pieces = stream[: rows * body].reshape(rows, body)
    return np.concatenate([np.full((rows, 1), bos_id, np.int64), pieces], axis=1)


def special_token_ids(tokenizer) -> set[int]:
    """BOS, EOS and PAD of ``tokenizer``: positions that are never examples."""
    return {i for i in (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) if i is not None}


def row_start_token(tokenizer) -> int:
    """The token that opens every row: BOS, or EOS for a tokenizer without one."""
    return tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id


def padding_token(tokenizer) -> int:
    """The token that right-pads a row: PAD, or EOS for a tokenizer without one."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
