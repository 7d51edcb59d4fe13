"""Who answers: Claude through the ``anthropic`` client, or the shipped SmolLM2 offline."""

from __future__ import annotations

import os
from pathlib import Path

from saeprobe.llm.request import LLMReply, LLMRequest

DEFAULT_CLAUDE_MODEL = "claude-sonnet-5"
KEY_VARIABLE = "ANTHROPIC_API_KEY"
_KEY_HELP = (f"export {KEY_VARIABLE}=... (a key from the Claude console), or use the offline explainer "
             f"instead; nothing computed so far is lost")


class LLMError(RuntimeError):
    """An LLM call that cannot succeed as configured; the message says what to change."""


def check_api_key() -> None:
    """Fail before any job runs when the Claude provider has no key to send."""
    if not os.environ.get(KEY_VARIABLE):
        raise LLMError(f"the Claude explainer needs {KEY_VARIABLE}, which is not set: {_KEY_HELP}")


class ClaudeProvider:
    """Claude's Messages API. The client retries rate limits (429), overload
    (529), server errors and dropped connections with exponential backoff,
    honouring ``retry-after``; bad requests and a refused key fail at once."""

    concurrent = True  # calls wait on the network: several may be in flight

    def __init__(self, model: str = DEFAULT_CLAUDE_MODEL, timeout_s: float = 60.0, max_retries: int = 6,
                 base_url: str | None = None):
        import anthropic

        check_api_key()
        self.name = f"claude:{model}"
        self.model = model
        self._client = anthropic.Anthropic(base_url=base_url, timeout=timeout_s, max_retries=max_retries)

    def complete(self, request: LLMRequest) -> LLMReply:
        import anthropic

        options = {} if request.temperature is None else {"temperature": request.temperature}
        try:
            response = self._client.messages.create(
                model=self.model, system=request.system, max_tokens=request.max_tokens,
                messages=[{"role": "user", "content": request.user}],
                # Short answers with a token budget: no thinking to eat it.
                thinking={"type": "disabled"}, **options,
            )
        except anthropic.AuthenticationError as err:
            raise LLMError(f"Claude refused the API key in {KEY_VARIABLE} (HTTP {err.status_code}): {_KEY_HELP}") from None
        except anthropic.APIStatusError as err:
            raise LLMError(f"Claude answered HTTP {err.status_code} to a {request.prompt} request "
                           f"(after the client's retries, where retrying could help): {err.message}") from None
        except anthropic.APIConnectionError as err:
            raise LLMError(f"could not reach the Claude API ({err}); compute nodes often have no network: run "
                           f"the LLM calls where the API can be reached, or use the offline explainer") from None
        texts = [block.text for block in response.content or [] if getattr(block, "type", None) == "text"]
        if not texts:
            raise LLMError(f"Claude's reply to a {request.prompt} request holds no text "
                           f"(stop_reason {response.stop_reason!r})")
        return LLMReply("".join(texts), self.name, response.usage.input_tokens, response.usage.output_tokens)


class OfflineProvider:
    """A local causal LM with a chat template (the shipped SmolLM2-135M-Instruct
    by default) answering the same prompts, so every stage runs with no key and
    no network. Greedy unless a temperature is asked for; its answers are weak."""

    concurrent = False  # one model on the job's cores: calls take turns

    def __init__(self, checkpoint: str | Path, name: str = "smollm2-135m-instruct"):
        self.checkpoint = Path(checkpoint)
        self.name = f"offline:{name}"
        self._loaded = None
        self._allowed: dict[str, list[int]] = {}

    def _model(self):
        if self._loaded is None:
            from saeprobe.models import load_model

            model, tokenizer = load_model(self.checkpoint, device="cpu")
            if not tokenizer.chat_template:
                raise LLMError(f"{self.checkpoint}: the offline explainer needs a tokenizer with a chat template")
            self._loaded = model, tokenizer
        return self._loaded

    def _tokens_made_of(self, characters: str) -> list[int]:
        """The vocabulary's tokens that spell only ``characters``, and the end-of-sequence ones."""
        if characters not in self._allowed:
            model, tokenizer = self._model()
            ends = model.generation_config.eos_token_id
            ends = {tokenizer.eos_token_id, *(ends if isinstance(ends, list) else [ends])} - {None}
            spelled = {i for i in range(len(tokenizer)) if (text := tokenizer.decode([i])) and set(text) <= set(characters)}
            self._allowed[characters] = sorted(spelled | ends)
        return self._allowed[characters]

    def complete(self, request: LLMRequest) -> LLMReply:
        import torch

        model, tokenizer = self._model()
        messages = [{"role": "system", "content": request.system}, {"role": "user", "content": request.user}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)
        sampling = {"do_sample": False} if request.temperature is None else {
            "do_sample": True, "temperature": request.temperature}
        if sampling["do_sample"]:  # seeded by the request, so a rerun writes the same text
            torch.manual_seed(int(request.cache_key(self.name)[:8], 16))
        if request.reply_characters is not None:  # a 135M model rarely keeps to a format unaided
            allowed = self._tokens_made_of(request.reply_characters)
            sampling["prefix_allowed_tokens_fn"] = lambda batch, prefix: allowed
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=request.max_tokens, pad_token_id=tokenizer.pad_token_id,
                                 **sampling)
        new = out[0, ids["input_ids"].shape[1]:]
        return LLMReply(tokenizer.decode(new, skip_special_tokens=True).strip(), self.name,
                        int(ids["input_ids"].shape[1]), int(len(new)))
