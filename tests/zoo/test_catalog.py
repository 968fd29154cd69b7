"""The static catalog (`zoo list`, `zoo datasets`, `zoo info`) matches the
live registry, and those commands never import TensorFlow."""

import subprocess
import sys

from zoo import catalog
from zoo.tuning.cli.catalog import build_catalog


def test_catalog_json_matches_the_live_registry():
    # Stale? Regenerate with `python -m zoo.tuning.cli.catalog`.
    import json

    assert catalog.read_catalog() == json.loads(json.dumps(build_catalog()))


def test_fast_commands_do_not_import_tensorflow():
    script = (
        "import sys, io, contextlib\n"
        "from zoo.tuning.cli.main import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    assert main(['list']) == 0\n"
        "    assert main(['datasets']) == 0\n"
        "    assert main(['info', 'mlp_small']) == 0\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        "print(out.getvalue())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("mlp_small ") for line in lines)
    # Each dataset once, with all its kinds.
    digits = [line for line in lines if line.startswith("digits ")]
    assert len(digits) == 1 and "image,tabular,vae_image" in digits[0]
    assert any(line.strip().startswith("hidden_units") for line in lines)


def test_info_on_an_unknown_model_names_close_matches():
    result = subprocess.run(
        [sys.executable, "-m", "zoo", "info", "mlp_smal"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "mlp_small" in result.stderr and len(result.stderr.splitlines()) == 1


def test_every_flag_of_every_verb_has_help():
    from zoo.tuning.cli.main import build_parser

    parser = build_parser()
    verbs = next(a for a in parser._actions if a.dest == "verb").choices
    missing = [
        f"zoo {verb} {action.option_strings or action.dest}"
        for verb, sub in verbs.items()
        for action in sub._actions
        if action.dest != "help" and not action.help
    ]
    assert not missing
    assert "(default: 2)" in verbs["train"].format_help().replace("\n", " ")


def test_info_lists_settings_with_choices_and_the_search_space():
    result = subprocess.run(
        [sys.executable, "-m", "zoo", "info", "bert_minilm"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    pooling = next(line for line in lines if line.split()[:1] == ["pooling"])
    assert "one of mean|pooled" in pooling
    start = lines.index(
        "search space of `zoo tune` (replace or extend with --space FILE):"
    )
    space = {line.split()[0]: line for line in lines[start + 1 :]}
    assert "log sampling" in space["head_learning_rate"]
    assert space["learning_rate"].endswith("one of 2e-05, 3e-05, 5e-05 (default 5e-05)")
