"""Every prompt the pipeline puts to an LLM, in our own words, following each
reference's structure (``../shared/reference/analysis-methods.md``: SAEBench
§4.3-4.4, kurexi/SAEs §6.5, sae-sensitivity §2.3): what each shows, the
reply format, the budget. A change of wording gets a new version: the
version is part of every cache key, so old replies are never reused for it."""

from __future__ import annotations

import json
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
    return LLMRequest(system=system, user=user, max_tokens=2 * n + 5, prompt=DETECTION_VERSION,
                      reply_characters="0123456789, ")


# -- kurexi/SAEs' descriptions and OOD rankings (analysis-methods.md §6.5), in our words.
DESCRIPTION_VERSION = "description@1"
RANKING_VERSION = "ranking@1"

DESCRIPTION_SYSTEM = ("You study the latents of sparse autoencoders trained on a language model's activations. "
                      "From the texts on which one latent is most active, say in one or two short, specific "
                      "sentences which pattern of language or meaning it encodes. State it plainly, without hedging.")


def description_request(latent: int, examples: list[tuple[float, str]]) -> LLMRequest:
    """Describe ``latent`` from its strongest ``(activation, text)`` examples."""
    lines = "\n".join(f"  [{act:.3f}] {text}" for act, text in examples)
    user = (f"Latent {latent}.\nIts strongest examples, each as [activation] then the text:\n{lines}\n\n"
            f"What does this latent encode?")
    return LLMRequest(system=DESCRIPTION_SYSTEM, user=user, max_tokens=150, prompt=DESCRIPTION_VERSION)


RANKING_SYSTEM = ("You judge the features of a sparse autoencoder for a classifier that must keep working after "
                  "a shift of distribution. Order the features by how much they truly bear on the task. Put last "
                  "the ones that look like shortcuts, which the stated shift would likely break.")


def ranking_request(task: str, shift: str, candidates: list[tuple[int, str]]) -> LLMRequest:
    """Rank ``(latent, description)`` candidates for ``task`` under the distribution ``shift``."""
    listed = "\n".join(f"  {i}. (latent {latent}) {description}"
                       for i, (latent, description) in enumerate(candidates, start=1))
    example = json.dumps({"ranking": list(range(1, len(candidates) + 1))[::-1]})
    user = (f"Task: {task}\nDistribution shift: {shift}\n\nCandidate features:\n{listed}\n\n"
            f"Rank them from most to least relevant. Reply with a JSON object and nothing else: its one key "
            f"\"ranking\" lists the candidates' numbers, most relevant first, for example {example}.")
    # kurexi's budget is 200 tokens; a well-formed reply needs a few per candidate, and the
    # offline explainer, which rarely closes the object, would spend all 200.
    return LLMRequest(system=RANKING_SYSTEM, user=user, max_tokens=min(200, 16 + 4 * len(candidates)),
                      prompt=RANKING_VERSION, reply_characters='{}[]":, 0123456789rankig')


# -- sae-sensitivity's generation of new texts that should make a latent fire (analysis-methods.md §2.3).
GENERATION_VERSION = "generation@1"
SAMPLE_SEPARATOR = "<SAMPLE_SEPARATOR/>"
SAMPLES_PER_CALL = 10
"""Samples kept per generation reply; the prompt asks for one more."""

GENERATION_SYSTEM = """You are a careful researcher who studies one feature of a language model, a unit that \
responds to some of the tokens of a text. Your task is to write new texts on which this feature responds strongly.

You will see texts on which the feature responds. Each token on which it responds is wrapped in double braces, \
each token in its own pair: {{like}}{{this}}. A text with no braces is one on which the feature does not respond.

Keep two things in mind: the feature responds token by token, and whether it responds to a token can depend only \
on that token and the ones before it."""


def generation_request(examples: list[str], max_tokens: int) -> LLMRequest:
    """Ask for new texts like the marked ``examples`` (strongest first): one
    more than ``SAMPLES_PER_CALL``, as the reference asks, since a reply may drop one."""
    asked, separator = SAMPLES_PER_CALL + 1, SAMPLE_SEPARATOR
    shown = f"\n{separator}\n".join(examples)
    user = (f"Study what the examples below share and where they differ, then write new samples on which the "
            f"feature responds strongly. Taken together, your samples should keep whatever all the examples "
            f"have in common, vary as much as the examples vary and along the same lines, add no line of "
            f"variation the examples do not show, and hold no two near-identical samples.\n\n"
            f"Write exactly {asked} new samples, with {separator} between each two.\n\n"
            f"A feature may carry meaning, grammar, an abstraction, named entities, or formatting such as line "
            f"breaks, punctuation, citations or special characters: keep whichever of these the examples show.\n\n"
            f"Do not number the samples or make a list of them; just put {separator} between each two.\n\n"
            f"Here are the {len(examples)} examples, with {separator} between each two:\n\n{shown}")
    return LLMRequest(system=GENERATION_SYSTEM, user=user, max_tokens=max_tokens, prompt=GENERATION_VERSION)
