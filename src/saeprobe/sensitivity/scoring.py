"""Reading the generated samples, re-scoring texts through the model and the
SAE, and the sensitivity of a latent to them (nathanhu0/sae-sensitivity,
``analysis-methods.md`` §2.4-2.6)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from saeprobe.interpret.windows import mask_special_tokens
from saeprobe.llm.prompts import SAMPLE_SEPARATOR as SEPARATOR
from saeprobe.llm.prompts import SAMPLES_PER_CALL

MAX_TOKENS = 128
"""Tokens a re-scored text is cut to, BOS included."""
FIRES = 1e-6
"""A text activates a latent iff its maximum activation over the text's tokens exceeds this."""


def parse_samples(reply: str, expected: int = SAMPLES_PER_CALL) -> list[str]:
    """The samples of a generation reply: split on the separator (on blank
    lines where it is missing), blanks dropped; the first ``expected`` when
    there are ``expected`` +- 1 of them, else all (the reference's rule)."""
    pieces = reply.split(SEPARATOR) if SEPARATOR in reply else reply.split("\n\n")
    samples = [p.strip() for p in pieces if p.strip()]
    return samples[:expected] if abs(len(samples) - expected) <= 1 else samples


def sensitivity(max_activations: np.ndarray) -> float:
    """The fraction of texts on which the latent fires; NaN for no texts."""
    values = np.asarray(max_activations, float)
    return float(np.mean(values > FIRES)) if len(values) else float("nan")


def clean_text(text: str) -> str:
    """A shown or generated text as the model reads it: marks removed and
    ``↵`` a newline again (the reference scores the glyph itself)."""
    return text.replace("{{", "").replace("}}", "").replace("↵", "\n")


def text_rows(tokenizer, texts: list[str], max_tokens: int = MAX_TOKENS) -> tuple[np.ndarray, np.ndarray]:
    """``[texts, longest]`` token ids, each text's row its start token then
    its tokens, at most ``max_tokens`` in all, right-padded; and the lengths."""
    from saeprobe.interpret.corpus import padding_token, row_start_token

    start = row_start_token(tokenizer)
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
    ids = [[start, *t][:max_tokens] for t in encoded]
    lengths = np.array([len(t) for t in ids], np.int64)
    rows = np.full((len(ids), max(lengths, default=1)), padding_token(tokenizer), np.int64)
    for row, tokens in zip(rows, ids):
        row[:len(tokens)] = tokens
    return rows, lengths


def text_activations(extractor, sae, layer: int, rows: np.ndarray, lengths: np.ndarray, latents: np.ndarray,
                     masked_ids, batch_texts: int = 32) -> list[np.ndarray]:
    """Per text (``text_rows``), the activation of its latent ``latents[i]``
    at each of its tokens, BOS and PAD positions 0."""
    import torch

    per_text = []
    for start in range(0, len(rows), batch_texts):
        chunk, chunk_lengths = rows[start:start + batch_texts], lengths[start:start + batch_texts]
        real = np.arange(chunk.shape[1])[None, :] < chunk_lengths[:, None]
        hidden = extractor.token_row_activations(chunk, dtype=np.float32, attention_mask=real)[layer]
        n, ctx, d_in = hidden.shape
        with torch.inference_mode():
            encoded = sae.encode(torch.from_numpy(hidden).reshape(-1, d_in)).reshape(n, ctx, -1)
            chosen = encoded[torch.arange(n), :, torch.from_numpy(latents[start:start + n])].float().numpy()
        chosen = mask_special_tokens(chosen, chunk, masked_ids)
        per_text += [row[:length] for row, length in zip(chosen, chunk_lengths)]
    return per_text


def scored_texts(frame: pd.DataFrame, text_column: str, rows: np.ndarray, lengths: np.ndarray,
                 activations: list[np.ndarray]) -> pd.DataFrame:
    """``frame`` with the reference's scoring columns: ``text_annotated``,
    ``text_clean``, ``tokenized_text`` (ids, JSON), ``max_activation`` and
    ``all_activations`` (per token, JSON)."""
    out = frame.drop(columns=[text_column]).assign(text_annotated=frame[text_column].to_numpy())
    out["text_clean"] = [clean_text(t) for t in out["text_annotated"]]
    out["tokenized_text"] = [json.dumps(row[:n].tolist()) for row, n in zip(rows, lengths)]
    out["max_activation"] = [float(a.max(initial=0.0)) for a in activations]
    out["all_activations"] = [json.dumps(np.round(a, 6).tolist()) for a in activations]
    return out


def rescore(frame: pd.DataFrame, text_column: str, tokenizer, extractor, sae, layer: int) -> pd.DataFrame:
    """``frame`` (a ``feature_index`` and a text per row) scored as the
    reference scores texts: each text alone, BOS first, on its own latent."""
    from saeprobe.interpret.corpus import padding_token, row_start_token

    rows, lengths = text_rows(tokenizer, [clean_text(t) for t in frame[text_column]])
    masked = {row_start_token(tokenizer), padding_token(tokenizer)}
    acts = text_activations(extractor, sae, layer, rows, lengths, frame["feature_index"].to_numpy(), masked)
    return scored_texts(frame, text_column, rows, lengths, acts)


def feature_stats(generated: pd.DataFrame, original: pd.DataFrame) -> pd.DataFrame:
    """Per latent: the fraction of its generated texts and of its shown
    windows that fire, outer-joined (a latent whose reply held no sample has
    no generated sensitivity)."""
    def fraction(frame, name):
        return frame.groupby("feature_index")["max_activation"].agg(sensitivity).rename(name)

    stats = pd.concat([fraction(generated, "generated_sensitivity"), fraction(original, "original_sensitivity")],
                      axis=1, join="outer")
    return stats.rename_axis("feature_index").reset_index()


def sae_sensitivity(stats: pd.DataFrame) -> pd.DataFrame:
    """Per SAE of ``stats`` (``feature_stats`` rows with ``sae``, ``architecture``
    and ``explainer``): mean and median generated sensitivity, mean original
    sensitivity, latents scored."""
    return stats.groupby(["sae", "architecture", "explainer"], sort=False).agg(
        generated_sensitivity=("generated_sensitivity", "mean"),
        median_generated_sensitivity=("generated_sensitivity", "median"),
        original_sensitivity=("original_sensitivity", "mean"),
        latents_scored=("generated_sensitivity", "count"),
        latents_without_samples=("generated_sensitivity", lambda s: int(s.isna().sum())),
    ).reset_index()
