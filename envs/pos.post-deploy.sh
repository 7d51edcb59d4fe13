#!/usr/bin/env bash
# spaCy's small English pipeline, the reference's tagger.
set -euo pipefail
python -m spacy download en_core_web_sm
