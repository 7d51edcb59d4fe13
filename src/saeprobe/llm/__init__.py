"""The LLM layer of the interpretability stages: one way to ask an LLM.

An analysis builds ``LLMRequest``s and hands them to an ``Explainer``, which
answers each from the response cache or from its provider: Claude through
the ``anthropic`` client, or the shipped SmolLM2 offline. Every reply says
which explainer wrote it.
"""

from saeprobe.llm.cache import ResponseCache
from saeprobe.llm.explainer import Explainer
from saeprobe.llm.providers import ClaudeProvider, LLMError, OfflineProvider, check_api_key
from saeprobe.llm.request import LLMReply, LLMRequest

__all__ = ["ClaudeProvider", "Explainer", "LLMError", "LLMReply", "LLMRequest", "OfflineProvider", "ResponseCache",
           "check_api_key"]
