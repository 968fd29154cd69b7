import html.parser
import json
import os
import pathlib
import shutil

import pandas as pd
import pytest
from PIL import Image

from zoo.errors import ConfigError, ZooError
from zoo.tuning.callbacks import CallbackOptions
from zoo.tuning.cli import main
from zoo.tuning.compare import compare, load_configs
from zoo.tuning.io import read_json
from zoo.tuning.report import baseline_table, leaderboard, write_report

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Tables(html.parser.HTMLParser):
    """Rows of cell texts of every table inside the element with `id` (or of
    the table with that id)."""

    def __init__(self, element_id):
        super().__init__()
        self.element_id, self.depth, self.rows, self.cell = element_id, 0, [], None

    def handle_starttag(self, tag, attrs):
        if self.depth or dict(attrs).get("id") == self.element_id:
            self.depth += 1
        if self.depth and tag == "tr":
            self.rows.append([])
        elif self.depth and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if self.depth and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def _rows(text, element_id):
    parser = _Tables(element_id)
    parser.feed(text)
    return parser.rows


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def two_trials(tmp_path_factory):
    """Two finished grid trials of one epoch on iris (learning rates 1e-3, 3e-2)."""
    from zoo.tuning.search import tune

    run_dir = tmp_path_factory.mktemp("report") / "run"
    tune(
        "mlp_tiny",
        "iris",
        run_dir=run_dir,
        tuner="grid",
        max_trials=2,
        epochs=1,
        space={"optimizer": "adam", "learning_rate": [0.001, 0.03]},
        replace_space=True,
        callbacks=CallbackOptions(tensorboard=False, early_stopping_patience=0),
    )
    return str(run_dir)


def test_tune_report_shows_the_best_model_and_the_search(two_trials):
    text = _read(os.path.join(two_trials, "report.html"))
    metrics = read_json(os.path.join(two_trials, "best", "metrics.json"))
    best = read_json(os.path.join(two_trials, "best", "config.json"))
    rows = {row[0]: row[1:] for row in _rows(text, "best-metrics") if len(row) >= 2}
    assert rows["accuracy"][0] == f"{metrics['test_accuracy']:.4g}"
    assert rows["loss"][0] == f"{metrics['test_loss']:.4g}"
    # The runner's scikit-learn baseline sits beside the model's accuracy.
    assert f"{metrics['baseline_accuracy']:.4g}" in rows["accuracy"][1]
    hyperparameters = dict(_rows(text, "best-hyperparameters"))
    assert (
        hyperparameters["learning_rate"]
        == f"{best['hyperparameters']['learning_rate']:.4g}"
    )
    board = _rows(text, "leaderboard")
    header, body = board[0], board[1:]
    # The objective under its own name, the trials' wall times, best first.
    assert "val_accuracy" in header and "score" not in header and "seconds" in header
    assert [row[0] for row in body][0] == best["trial_id"]
    assert all(float(row[header.index("seconds")]) > 0 for row in body)
    assert 'class="sortable"' in text and "aria-sort" in text
    # plotly.js inlined once, each figure without it; nothing loaded from outside.
    assert text.count("* plotly.js v") == 1
    assert "<script src" not in text and "<link" not in text
    assert '"type":"parcoords"' in text and '"type":"heatmap"' in text
    assert text.count('class="plotly-graph-div"') >= 4
    # Two trials are too few for an importance model: said, not drawn.
    assert "Hyperparameter importance needs 4 finished trials" in text
    # learning_rate is sampled on a log scale: a log axis against the objective.
    assert '"type":"log"' in text


def test_report_of_a_failed_trial_says_why(small_search):
    run_dir = small_search.run_dir
    text = _read(os.path.join(run_dir, "report.html"))
    assert "1 trial(s) did not complete" in text
    header, *body = _rows(text, "leaderboard")
    rows = {row[header.index("status")]: row for row in body}
    assert set(rows) == {"COMPLETED", "FAILED"}
    # The failed trial has no score, says why, and sorts last.
    failed = rows["FAILED"]
    assert body[-1] == failed and failed[header.index("val_accuracy")] == ""
    assert "NaN" in failed[header.index("reason")]


def test_baselines_sit_beside_the_matching_test_metric():
    table = baseline_table(
        {
            "test_accuracy": 0.9,
            "baseline_accuracy": 0.34,
            "test_rmse_original": 2.0,
            "persistence_test_rmse_original": 3.0,
            "model_test_perplexity": 80.0,
            "bigram_test_perplexity": 120.0,
            "test_mean_iou": 0.6,
            "baseline_mean_box_mean_iou": 0.2,
            "train_seconds": 1.5,
            "best_trial_id": "3",
            "baseline_name": "logistic regression",
        }
    )
    assert table["baselines"] == [
        "logistic regression",
        "bigram",
        "mean_box",
        "persistence",
    ]
    rows = {metric: (value, baselines) for metric, value, baselines in table["rows"]}
    assert rows["accuracy"] == (0.9, [0.34, None, None, None])
    assert rows["rmse_original"] == (2.0, [None, None, None, 3.0])
    assert rows["perplexity"] == (80.0, [None, 120.0, None, None])
    assert rows["mean_iou"] == (0.6, [None, None, 0.2, None])
    assert table["other"] == [("train_seconds", 1.5)]


def _hand_made_train_run(folder):
    """A finished train folder written by hand: config, metrics with
    baselines, a two-epoch history and test predictions."""
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model": "mlp_tiny",
                "data": "iris",
                "task": "multiclass",
                "status": "complete",
                "epochs": 2,
                "class_names": ["setosa", "versicolor", "virginica"],
            }
        )
    )
    (folder / "metrics.json").write_text(
        json.dumps(
            {
                "test_accuracy": 0.8,
                "baseline_accuracy": 0.33,
                "test_loss": 0.5,
                "baseline_loss": 1.1,
                "test_f1_macro": 0.2,
                "baseline_f1_macro": 0.3,
            }
        )
    )
    (folder / "history.csv").write_text(
        "epoch,loss,accuracy,val_loss,val_accuracy\n"
        "0,1.0,0.5,1.1,0.4\n1,0.6,0.7,0.7,0.6\n"
    )
    (folder / "test_predictions.csv").write_text(
        "y_true,y_pred,probability\n0,0,0.9\n1,2,0.6\n2,2,0.8\n1,1,0.7\n"
    )


def test_train_report_puts_baselines_beside_the_model(tmp_path):
    _hand_made_train_run(tmp_path / "run")
    text = _read(write_report(tmp_path / "run"))
    rows = _rows(text, "best-metrics")
    assert rows[0] == ["metric", "model", "baseline"]
    assert {r[0]: r[1:] for r in rows[1:]} == {
        "accuracy": ["0.8", "0.33"],
        "loss": ["0.5", "1.1"],
        "f1_macro": ["0.2", "0.3"],
    }
    # Green where the model beats the baseline (lower is better for a loss).
    assert '<td class="win">0.8</td>' in text and '<td class="win">0.5</td>' in text
    assert '<td class="">0.2</td>' in text
    assert text.count('"type":"heatmap"') == 1  # From the predictions file.
    assert '"type":"parcoords"' not in text  # No search charts for one run.


def test_report_draws_offline_and_sorts_in_headless_chromium(two_trials, tmp_path):
    """The page in a real browser with every request that is not a file
    refused: the charts draw, and a click on a header sorts the leaderboard."""
    if shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium).")
    playwright = pytest.importorskip("playwright.sync_api")
    path = os.path.abspath(os.path.join(two_trials, "report.html"))
    refused, errors = [], []

    def refuse(route):
        if route.request.url.startswith("file://"):
            return route.continue_()
        refused.append(route.request.url)
        return route.abort()

    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.route("**/*", refuse)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"file://{path}")
        drawn = page.locator(".js-plotly-plot .main-svg")
        drawn.first.wait_for(timeout=60_000)
        charts = page.locator(".js-plotly-plot").count()
        svg_charts = page.locator(".js-plotly-plot:has(svg.main-svg)").count()
        header = page.locator("#leaderboard th", has_text="learning_rate")
        column = (
            page.locator("#leaderboard th").all_inner_texts().index(header.inner_text())
        )

        def learning_rates():
            cells = page.locator(f"#leaderboard tbody tr td:nth-child({column + 1})")
            return [float(v) for v in cells.all_inner_texts()]

        before = learning_rates()
        header.click()
        ascending = learning_rates()
        header.click()
        descending = learning_rates()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert refused == [] and errors == []
    assert charts >= 3 and svg_charts == charts
    assert ascending == sorted(before) and descending == sorted(before, reverse=True)
    assert ascending != descending and before in (ascending, descending)
    assert (tmp_path / "report.png").stat().st_size > 10_000


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
    text = (run_dir / "report.html").read_text()
    board = _rows(text, "leaderboard")
    assert board[1][0] == table["name"][0]  # The best entry first, marked.
    assert '<tr class="best' in text and '"type":"heatmap"' in text
    assert f"The best model on the test split ({table['name'][0]})" in text
    # Pictures an entry's runner drew (a JointVAE's traversals) sit side by
    # side, one row per picture, captioned with the entries in board order.
    for shade, name in enumerate(table["name"]):
        Image.new("L", (8, 8), 100 * shade).save(run_dir / name / "traversals.png")
    text = pathlib.Path(write_report(run_dir)).read_text(encoding="utf-8")
    row = text.split("<h3>traversals.png</h3>", 1)[1].split("</div>", 1)[0]
    captions = [c.split("</figcaption>")[0] for c in row.split("<figcaption>")[1:]]
    assert captions == list(table["name"])
    # A single train folder reports too.
    single = write_report(run_dir / "relu")
    assert os.path.exists(single) and len(leaderboard(run_dir / "relu")) == 1
    # Rerunning skips finished entries.
    again = compare(str(configs), "iris", run_dir=run_dir, report=False)
    assert list(again.table["name"]) == list(table["name"])
