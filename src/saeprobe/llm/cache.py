"""Replies kept by content address, outside the Snakemake outputs.

Snakemake deletes a job's outputs before it reruns the job; replies kept
there would be bought again after every rerun, resumed run or single-figure
request. Here they survive all of those, and results can be rebuilt from the
cache alone.
"""

from __future__ import annotations

from pathlib import Path

from saeprobe.atomic import read_json, write_json
from saeprobe.llm.request import LLMReply


class ResponseCache:
    """One JSON file per reply, ``<folder>/<key[:2]>/<key>.json``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> LLMReply | None:
        path = self._path(key)
        if not path.is_file():
            return None
        record = read_json(path)
        return LLMReply(record["text"], record["explainer"], record["input_tokens"], record["output_tokens"],
                        cached=True)

    def put(self, key: str, reply: LLMReply, request: dict) -> None:
        """Store ``reply``; the request is kept beside it, so a cache entry can be read on its own."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"text": reply.text, "explainer": reply.explainer, "input_tokens": reply.input_tokens,
                          "output_tokens": reply.output_tokens, "request": request})
