"""Families with an optional dependency: skipped when it is missing, and
naming one of their models says which extra to install."""

import subprocess
import sys

_SCRIPT = """
import sys
sys.modules["keras_hub"] = None  # As if `pip install keras-zoo` without [text].
from zoo.errors import ZooError
from zoo.registry import get_family, list_models
assert "mlp_small" in list_models() and not any(m.startswith("bert") for m in list_models())
get_family("mlp_small")
try:
    get_family("bert_classifier")
except ZooError as error:
    print(error)
"""


def test_missing_extra_is_named_in_one_line():
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == (
        "Model 'bert_classifier' needs the [text] extra: pip install 'keras-zoo[text]'."
    )


_CLI = """
import sys
sys.modules["keras_hub"] = None  # As if `pip install keras-zoo` without [text].
from zoo.tuning.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_verb_that_needs_a_missing_extra_says_which(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _CLI,
            "attention",
            "the bank",
            "a bank",
            "--word",
            "bank",
            "--out",
            str(tmp_path / "attention"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "zoo: error: this command needs the [text] extra: pip install 'keras-zoo[text]'"
    )
