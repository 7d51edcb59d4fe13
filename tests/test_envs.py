"""Each rule's script imports only what its conda environment provides.

conda is not installed here, so instead of building the environments we run
each script's import statements in a Python where the heavy packages that the
rule's env file does not list are blocked.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest
import yaml

from workflow_helpers import REPO

# Distribution name -> import name, for the packages worth blocking.
HEAVY = {
    "torch": "torch", "transformers": "transformers", "nnsight": "nnsight", "gguf": "gguf",
    "accelerate": "accelerate", "safetensors": "safetensors", "scikit-learn": "sklearn", "scipy": "scipy",
    "matplotlib": "matplotlib", "seaborn": "seaborn", "pyarrow": "pyarrow", "zstandard": "zstandard",
    "threadpoolctl": "threadpoolctl", "huggingface_hub": "huggingface_hub", "xgboost": "xgboost",
}

BLOCKER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not in this rule's conda env")
sys.meta_path.insert(0, Block())
"""


def rules_with_scripts():
    for rule_file in sorted((REPO / "workflow/rules").glob("*.smk")):
        for block in re.split(r"^(?=rule )", rule_file.read_text(), flags=re.M)[1:]:
            name = block.split()[1].rstrip(":")
            env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            script = re.search(r'script:\s*\n\s*"([^"]+)"', block)
            if env and script:
                yield name, (rule_file.parent / env.group(1)).resolve(), (rule_file.parent / script.group(1)).resolve()


def env_packages(env_file) -> set[str]:
    spec = yaml.safe_load(env_file.read_text())
    names = set()
    for dep in spec["dependencies"]:
        for item in dep["pip"] if isinstance(dep, dict) else [dep]:
            names.add(re.split(r"[=<>!~ ]", item)[0].strip())
    return names


@pytest.mark.parametrize("rule, env_file, script", list(rules_with_scripts()), ids=lambda v: getattr(v, "name", v))
def test_script_imports_resolve_in_its_env(rule, env_file, script):
    blocked = {module for dist, module in HEAVY.items() if dist not in env_packages(env_file)}
    tree = ast.parse(script.read_text())
    imports = "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))
    code = f"BLOCKED = {sorted(blocked)!r}\n{BLOCKER}\n{imports}\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO / "workflow/scripts")
    assert result.returncode == 0, f"{rule} ({env_file.name}): {result.stderr[-1500:]}"
