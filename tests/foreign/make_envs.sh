#!/usr/bin/env bash
# The virtual environments of the round trips through the real SAE libraries
# (tests/test_foreign_formats.py): .venv-saelens and .venv-dictionary-learning
# at the repository root, one per library, as their pins conflict with ours.
#
# Idempotent: an environment whose stamp records its current recipe is left
# as it is; any other is built afresh.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}

make_env() {  # make_env VENV REQUIREMENTS [PACKAGE TO REMOVE AFTERWARDS...]
    local venv=$1 requirements=$2
    shift 2
    local stamp="$venv/.installed"
    local recipe
    recipe="$(cat "$requirements")
# then removed: $*"
    if [[ -f $stamp && "$(cat "$stamp")" == "$recipe" ]]; then
        return
    fi
    echo "make_envs.sh: building $venv from $requirements" >&2
    local start=$SECONDS
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$requirements"
    if (($#)); then
        "$venv/bin/python" -m pip uninstall --quiet --yes "$@"
    fi
    printf '%s\n' "$recipe" >"$stamp"
    echo "make_envs.sh: $venv built in $((SECONDS - start)) s, $(du -sh "$venv" | cut -f1)" >&2
}

make_env .venv-saelens tests/foreign/requirements-saelens.txt
# nnsight 0.3 asks for torchvision, and PyPI's torchvision fails to import
# beside the CPU torch ('operator torchvision::nms does not exist'), which
# breaks `import transformers`; nothing dictionary_learning loads needs it.
make_env .venv-dictionary-learning tests/foreign/requirements-dictionary-learning.txt torchvision
