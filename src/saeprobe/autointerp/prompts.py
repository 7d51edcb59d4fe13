"""The autointerp prompts, in our own words, following SAEBench's structure
(``../shared/reference/analysis-methods.md`` §4.3-4.4): what each shows, the
reply format, the budget. A change of wording gets a new version: the
version is part of every cache key, so old replies are never reused for it."""

from __future__ import annotations

import random

from saeprobe.llm import LLMRequest

EXPLANATION_VERSION = "explanation@1"
DETECTION_VERSION = "detection@1"
EXPLANATION_MAX_TOKENS = 30


def _framing() -> str:
    return ("We are studying the neurons of a language model. Each neuron responds to some word, phrase or idea "
            "in short documents.")


EXPLANATION_SYSTEM = f"""{_framing()} You will see documents in which the words where the neuron responds are \
wrapped in << and >>. The documents come in order, the strongest response first.

Say in one sentence what the neuron responds to. Be general rather than narrow, and cover most of the marked \
words: some neurons respond to a single word, others to every word of a passage on a theme. Mention case or \
punctuation only when they matter. Use at most 20 words, no formatting and no long lists of words.

Some explanations of other neurons, for the form:
This neuron activates on the word "over" when it follows a verb of motion.
This neuron activates on verbs of speaking, such as said, asked and replied.
This neuron activates on words that begin with "un".
This neuron activates on passages about cooking and recipes."""


def explanation_request(windows: list[str]) -> LLMRequest:
    """Explain a latent from its marked generation windows (strongest first)."""
    documents = "\n".join(f"{i}. {text}" for i, text in enumerate(windows, start=1))
    return LLMRequest(system=EXPLANATION_SYSTEM, user=f"The documents:\n\n{documents}",
                      max_tokens=EXPLANATION_MAX_TOKENS, prompt=EXPLANATION_VERSION)


def detection_request(explanation: str, windows: list[str], seed: int) -> LLMRequest:
    """Pick out, given only ``explanation``, which unmarked ``windows`` the latent fires on.

    The example answer in the system prompt is drawn with ``seed``, as SAEBench draws a fresh one per call."""
    n = len(windows)
    example = ", ".join(map(str, sorted(random.Random(seed).sample(range(1, n + 1), min(4, n)))))
    system = (f"{_framing()} You will get a short explanation of one neuron, then {n} numbered sequences in "
              f"random order. List the numbers of the sequences that hold at least one word on which the neuron "
              f"would respond, separated by commas, for example: {example}. Do not read the explanation too "
              f"narrowly. If no sequence qualifies, answer None. Answer with the numbers or None and nothing else.")
    sequences = "\n".join(f"{i}. {text}" for i, text in enumerate(windows, start=1))
    user = f"The neuron responds to {explanation}.\n\nThe sequences:\n\n{sequences}"
    return LLMRequest(system=system, user=user, max_tokens=2 * n + 5, prompt=DETECTION_VERSION)
