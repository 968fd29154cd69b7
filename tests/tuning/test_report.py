import json
import os
import shutil
import subprocess

import pandas as pd
import pytest

from zoo.errors import ConfigError, ZooError
from zoo.tuning.cli import main
from zoo.tuning.compare import compare, load_configs
from zoo.tuning.report import leaderboard, write_report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _dom(path):
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "Chromium is not installed (apt-get install -y chromium); cannot render report.html."
        )
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--dump-dom",
            f"file://{os.path.abspath(path)}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_tune_writes_a_self_contained_report(small_search):
    run_dir = small_search.run_dir
    path = os.path.join(run_dir, "report.html")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert "http://" not in text and "https://" not in text  # Opens with no network.
    assert text.count("data:image/png;base64,") >= 3
    for name in (
        "curves_loss.png",
        "score_vs_hyperparameters.png",
        "confusion_matrix.png",
    ):
        assert os.path.exists(os.path.join(run_dir, "plots", name)), name
    dom = _dom(path)
    assert 'id="leaderboard"' in dom
    assert "FAILED" in dom and "COMPLETED" in dom


def test_report_cli_rewrites_the_report(small_search, capsys):
    os.remove(os.path.join(small_search.run_dir, "report.html"))
    assert main(["report", str(small_search.run_dir)]) == 0
    assert os.path.exists(os.path.join(small_search.run_dir, "report.html"))
    assert "COMPLETED" in capsys.readouterr().out


def test_report_of_a_folder_without_a_run(tmp_path):
    with pytest.raises(ZooError, match="holds no zoo run"):
        write_report(tmp_path)


def test_compare_configs_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        load_configs([{"name": "a", "model": "mlp_tiny", "epoch": 2}])
    with pytest.raises(ConfigError, match="named 'a'"):
        load_configs(
            [{"name": "a", "model": "mlp_tiny"}, {"name": "a", "model": "mlp_tiny"}]
        )
    with pytest.raises(ConfigError, match="folder name"):
        load_configs([{"name": "../up", "model": "mlp_tiny"}])
    assert len(load_configs(os.path.join(ROOT, "examples", "five_mlps.json"))) == 5


def test_compare_trains_each_entry_and_reports(tmp_path, capsys):
    configs = tmp_path / "configs.json"
    configs.write_text(
        json.dumps(
            [
                {
                    "name": "relu",
                    "model": "mlp_tiny",
                    "set": {"activation": "relu", "hidden_units": [8]},
                    "epochs": 2,
                },
                {
                    "name": "tanh_sgd",
                    "model": "mlp_tiny",
                    "set": {
                        "activation": "tanh",
                        "optimizer": "sgd",
                        "learning_rate": 0.1,
                    },
                    "epochs": 1,
                },
            ]
        )
    )
    run_dir = tmp_path / "cmp"
    assert (
        main(["compare", str(configs), "--data", "iris", "--run-dir", str(run_dir)])
        == 0
    )
    out = capsys.readouterr().out
    table = pd.read_csv(run_dir / "comparison.csv")
    assert sorted(table["name"]) == ["relu", "tanh_sgd"] and "relu" in out
    assert table["test_accuracy"].is_monotonic_decreasing
    assert dict(zip(table["name"], table["epochs"], strict=True)) == {
        "relu": 2,
        "tanh_sgd": 1,
    }
    assert (run_dir / "plots" / "curves_loss.png").exists()
    assert (run_dir / "plots" / "confusion_matrix.png").exists()
    assert 'id="leaderboard"' in (run_dir / "report.html").read_text()
    # A single train folder reports too.
    single = write_report(run_dir / "relu")
    assert os.path.exists(single) and len(leaderboard(run_dir / "relu")) == 1
    # Rerunning skips finished entries.
    again = compare(str(configs), "iris", run_dir=run_dir, report=False)
    assert list(again.table["name"]) == list(table["name"])
