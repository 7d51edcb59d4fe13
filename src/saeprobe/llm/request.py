"""What is asked of an LLM, and what comes back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LLMRequest:
    """One single-turn request: a system prompt and one user message."""

    system: str
    user: str
    max_tokens: int
    prompt: str
    """The prompt's name and version (``"detection@1"``): a reworded prompt gets a new version, and so new answers."""
    temperature: float | None = None
    """None: the model's default (current Claude models refuse any other)."""
    reply_characters: str | None = None
    """The characters a well-formed reply is made of (``"0123456789, "`` for a
    list of numbers), or None. The offline explainer is held to them by
    constrained decoding; Claude follows the prompt."""

    def cache_key(self, explainer: str) -> str:
        """Content address of this request put to ``explainer`` (provider and model)."""
        canonical = json.dumps({"explainer": explainer, **asdict(self)}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LLMReply:
    text: str
    explainer: str
    """``provider:model`` that wrote the text, e.g. ``claude:claude-sonnet-5``."""
    input_tokens: int
    output_tokens: int
    cached: bool = False
