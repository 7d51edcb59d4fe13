"""Reading the explainer's replies, and the detection score (SAEBench, ``analysis-methods.md`` §4.3-4.5)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def parse_explanation(reply: str) -> str:
    """The explanation after the last "activates on" (the whole reply where it
    is missing), without a final full stop."""
    text = reply.split("activates on")[-1].strip()
    return text[:-1].strip() if text.endswith(".") else text


def parse_predictions(reply: str) -> list[int] | None:
    """The sequence numbers of a detection reply: ``"2, 5 and 9"`` is
    ``[2, 5, 9]``, ``"None"`` is ``[]``. None where any piece is not a
    number: the reply cannot be scored."""
    text = reply.strip()
    text = text[:-1] if text.endswith(".") else text
    pieces = [p.strip() for p in text.replace("and", ",").replace("None", "").split(",")]
    pieces = [p for p in pieces if p]
    if not all(p.isdigit() for p in pieces):
        return None
    return [int(p) for p in pieces]


def detection_score(predictions: list[int], active: np.ndarray) -> float:
    """Accuracy over the sequences, positives and negatives alike: sequence
    ``i`` (1-based) is right when "predicted" and ``active[i - 1]`` agree."""
    predicted = np.isin(np.arange(1, len(active) + 1), predictions)
    return float(np.mean(predicted == np.asarray(active, bool)))


# -- scoring an SAE's sampled latents (analysis-methods.md §1, §4.2)
SCORED_TOP, SCORED_IW = 2, 2
"""Top and IW windows held out of the explanation, for detection; the rest (10 and 5) explain."""
SCORE_COLUMNS = ["latent", "firings", "explanation", "predictions", "active_sequences", "score", "random_active",
                 "skipped", "explainer"]


def _sequence(window, marked_above: float) -> str:
    from saeprobe.interpret.windows import render

    return render(window.tokens, np.asarray(window.acts), marked_above)


def _latent_trial(latent_examples, seed: int) -> dict | str:
    """The explanation windows and detection sequences of one latent, or why it cannot be scored."""
    from saeprobe.interpret.windows import active_threshold

    from saeprobe.interpret.examples import split_windows

    latent = int(latent_examples["latent"].iloc[0])
    top, iw, controls = split_windows(latent_examples)
    if len(top) <= SCORED_TOP or len(iw) <= SCORED_IW:
        return (f"{len(top)} top and {len(iw)} importance-weighted windows; more than {SCORED_TOP} and "
                f"{SCORED_IW} are needed (a larger corpus gives them)")
    rng = np.random.default_rng([seed, latent])
    top, iw = top.iloc[rng.permutation(len(top))], iw.iloc[rng.permutation(len(iw))]
    threshold = active_threshold(np.concatenate([np.asarray(a) for a in top["acts"]]))
    explaining = pd.concat([top.iloc[SCORED_TOP:], iw.iloc[SCORED_IW:]])
    explaining = explaining.iloc[np.argsort([-max(a) for a in explaining["acts"]], kind="stable")]
    scored = pd.concat([top.iloc[:SCORED_TOP], iw.iloc[:SCORED_IW], controls])
    scored = scored.iloc[rng.permutation(len(scored))]
    # SAEBench counts its random controls inactive whatever the latent does on them.
    active = [kind != "random" and max(acts) > threshold for kind, acts in zip(scored["kind"], scored["acts"])]
    random_active = sum(max(acts) > threshold for acts in controls["acts"])
    return {
        "explaining": [_sequence(w, threshold) for w in explaining.itertuples()],
        "sequences": [_sequence(w, np.inf) for w in scored.itertuples()],
        "active": np.array(active), "random_active": int(random_active),
        "detection_seed": int(rng.integers(2**31)),
    }


def score_latents(examples, explainer, seed: int):
    """Explain each latent of ``examples`` (a ``saeprobe.interpret.examples``
    table) from its top and IW windows, then have the explainer pick the
    active ones out of 2 top, 2 IW and the random windows, unmarked and
    shuffled, given only the explanation: one row per latent, ``score``
    the detection accuracy (NaN, with ``skipped`` saying why, where the
    latent has too few windows or the reply names no sequence numbers)."""
    from saeprobe.llm.prompts import detection_request, explanation_request

    latents = {int(latent): frame for latent, frame in examples.groupby("latent")}
    trials = {latent: _latent_trial(frame, seed) for latent, frame in latents.items()}
    ready = [latent for latent, trial in trials.items() if isinstance(trial, dict)]
    explanations = explainer.ask([explanation_request(trials[latent]["explaining"]) for latent in ready])
    explained = dict(zip(ready, (parse_explanation(reply.text) for reply in explanations)))
    detections = explainer.ask([
        detection_request(explained[latent], trials[latent]["sequences"], trials[latent]["detection_seed"])
        for latent in ready])
    replies = dict(zip(ready, detections))
    rows = []
    for latent, trial in trials.items():
        row = {"latent": latent, "firings": int(latents[latent]["firings"].iloc[0]), "explanation": None,
               "predictions": None, "active_sequences": None, "score": np.nan, "random_active": None,
               "skipped": "", "explainer": explainer.name}
        if isinstance(trial, str):
            row["skipped"] = trial
        else:
            predictions = parse_predictions(replies[latent].text)
            row.update(explanation=explained[latent], random_active=trial["random_active"],
                       active_sequences=", ".join(str(i + 1) for i in np.flatnonzero(trial["active"])))
            if predictions is None:
                row["skipped"] = f"the detection reply names no sequence numbers: {replies[latent].text[:200]!r}"
            else:
                row.update(predictions=", ".join(map(str, predictions)),
                           score=detection_score(predictions, trial["active"]))
        rows.append(row)
    return pd.DataFrame.from_records(rows, columns=SCORE_COLUMNS)


def sae_scores(latents):
    """Per SAE (and explainer): ``autointerp_score``, the mean detection
    accuracy over its scored latents, ``autointerp_std_dev``, and how many
    latents were scored and skipped (SAEBench drops the skipped silently)."""
    grouped = latents.groupby(["sae", "architecture", "explainer"], sort=True, dropna=False)["score"]
    return grouped.agg(autointerp_score="mean", autointerp_std_dev=lambda s: s.std(ddof=0),
                       latents_scored="count", latents_skipped=lambda s: int(s.isna().sum())).reset_index()
