"""Answering many requests: from the cache where possible, the provider otherwise."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

from saeprobe.llm.cache import ResponseCache
from saeprobe.llm.request import LLMReply, LLMRequest

log = logging.getLogger(__name__)


class Explainer:
    """A provider behind the response cache, at most ``max_concurrency`` calls in flight.

    ``stats`` counts cache hits, provider calls and the tokens those calls
    used, for the job's log."""

    def __init__(self, provider, cache: ResponseCache, max_concurrency: int = 4):
        self.provider = provider
        self.cache = cache
        self.max_concurrency = max_concurrency
        self.stats = {"hits": 0, "calls": 0, "input_tokens": 0, "output_tokens": 0}

    @property
    def name(self) -> str:
        return self.provider.name

    def ask(self, requests: list[LLMRequest]) -> list[LLMReply]:
        """One reply per request, in order. Each fresh reply is cached as soon as
        it arrives, so a run killed halfway keeps what it paid for."""
        keys = [request.cache_key(self.name) for request in requests]
        replies = [self.cache.get(key) for key in keys]
        # One call per distinct missing request, however often it is asked for.
        missing = {key: request for key, request, reply in zip(keys, requests, replies) if reply is None}
        hits = sum(reply is not None for reply in replies)
        self.stats["hits"] += hits

        def fetch(key):
            reply = self.provider.complete(missing[key])
            self.cache.put(key, reply, asdict(missing[key]))
            return reply

        workers = self.max_concurrency if self.provider.concurrent else 1
        fetched = {}
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for key, reply in zip(missing, pool.map(fetch, missing)):
                fetched[key] = reply
                self.stats["calls"] += 1
                self.stats["input_tokens"] += reply.input_tokens
                self.stats["output_tokens"] += reply.output_tokens
        replies = [fetched.get(key, reply) for key, reply in zip(keys, replies)]
        log.info("%s: %d requests, %d from the cache, %d calls; so far %d calls, %d input and %d output tokens",
                 self.name, len(requests), hits, len(missing), self.stats["calls"], self.stats["input_tokens"],
                 self.stats["output_tokens"])
        return replies


def build_explainer(settings: dict, cache_dir, offline_model=()) -> Explainer:
    """The explainer of ``saeprobe.config.explainer_settings``: Claude, or the
    offline model whose prepared folder (``prepare_model``'s) is the one
    item of ``offline_model``, as the LLM rules pass it (empty for Claude)."""
    from saeprobe.llm.providers import ClaudeProvider, OfflineProvider

    if settings["provider"] == "claude":
        provider = ClaudeProvider(settings["model"], timeout_s=settings["timeout_s"],
                                  max_retries=settings["max_retries"])
    else:
        from saeprobe.models import checkpoint_dir

        provider = OfflineProvider(checkpoint_dir(offline_model[0]), name=settings["model"])
    return Explainer(provider, ResponseCache(cache_dir), settings["max_concurrency"])
