"""Feature sensitivity's examples and generated texts (``analysis-methods.md``
§2.2-2.4): per latent, 10 of its 12 top windows and 5 of its 7 importance-
weighted ones, marked ``{{tok}}``, shown to an LLM that writes new texts of
the same kind, one call per latent."""

from __future__ import annotations

import numpy as np
import pandas as pd

from saeprobe.sensitivity.scoring import FIRES, SAMPLES_PER_CALL, SEPARATOR, parse_samples

N_SHOWN_TOP, N_SHOWN_IW = 10, 5
"""Windows shown per latent, drawn from the 12 top and 7 IW ones (the reference's "+2" are never shown)."""
MARKS = ("{{", "}}")
EXAMPLE_COLUMNS = ["feature_index", "Top_act", "Sequence"]
SAMPLE_COLUMNS = ["feature_index", "sample_index", "text"]
QUERY_COLUMNS = ["sae_name", "eval_name", "feature_index", "system_prompt", "user_prompt", "separator",
                 "num_per_call", "llm_response", "status", "explainer"]


def feature_examples(examples: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The shown windows of each latent of ``examples`` (a
    ``saeprobe.interpret.examples`` table): ``Top_act`` its strongest
    activation, ``Sequence`` the window with every token above 1% of the
    latent's strongest top-window activation marked. A latent whose top
    windows never fire is left out, as the reference leaves it out; one
    with no IW windows is shown its top windows only."""
    from saeprobe.interpret.examples import split_windows
    from saeprobe.interpret.windows import active_threshold, render

    records = []
    for latent, windows in examples.groupby("latent"):
        top, iw, _ = split_windows(windows)
        top_acts = np.concatenate([np.asarray(a) for a in top["acts"]]) if len(top) else np.zeros(0)
        if not len(top_acts) or top_acts.max() <= FIRES:
            continue
        rng = np.random.default_rng([seed, int(latent), 2])  # a stream of its own, apart from detection's
        shown = pd.concat([top.iloc[rng.permutation(len(top))[:N_SHOWN_TOP]],
                           iw.iloc[rng.permutation(len(iw))[:N_SHOWN_IW]]])
        threshold = active_threshold(top_acts)
        for window in shown.itertuples():
            acts = np.asarray(window.acts)
            records.append({"feature_index": int(latent), "Top_act": float(acts.max()),
                            "Sequence": render(window.tokens, acts, threshold, MARKS)})
    table = pd.DataFrame.from_records(records, columns=EXAMPLE_COLUMNS)
    return table.sort_values(["feature_index", "Top_act"], ascending=[True, False], kind="stable",
                             ignore_index=True)


def generate_samples(shown: pd.DataFrame, explainer, max_tokens: int, sae_name: str, eval_name: str):
    """One generation call per latent of ``shown`` (``feature_examples``):
    its samples (``SAMPLE_COLUMNS``) and every query with its parsed reply
    (``QUERY_COLUMNS``, the reference's and the explainer's name; ``status``
    "Failed" where the reply holds no sample)."""
    from saeprobe.llm.prompts import generation_request

    latents = sorted(shown["feature_index"].unique())
    requests = [generation_request(shown.loc[shown["feature_index"] == latent, "Sequence"].tolist(), max_tokens)
                for latent in latents]
    replies = explainer.ask(requests)
    samples, queries = [], []
    for latent, request, reply in zip(latents, requests, replies):
        parsed = parse_samples(reply.text)
        samples += [{"feature_index": int(latent), "sample_index": i, "text": text} for i, text in enumerate(parsed)]
        queries.append({"sae_name": sae_name, "eval_name": eval_name, "feature_index": int(latent),
                        "system_prompt": request.system, "user_prompt": request.user, "separator": SEPARATOR,
                        "num_per_call": SAMPLES_PER_CALL, "llm_response": SEPARATOR.join(parsed),
                        "status": f"Success with {reply.explainer}" if parsed else "Failed",
                        "explainer": reply.explainer})
    return (pd.DataFrame.from_records(samples, columns=SAMPLE_COLUMNS),
            pd.DataFrame.from_records(queries, columns=QUERY_COLUMNS))
