"""Smoke test of the benchmark suite: a tiny run writes its table."""

import json

import numpy as np
import pytest

from bench import common, pipelines


def test_pipelines_quick_run_writes_its_table(tmp_path):
    rows = pipelines.run(
        common.argument_parser("test").parse_args(
            ["--quick", "--families", "mlp", "--results-dir", str(tmp_path)]
        ),
        rates={"mlp": 100.0},
    )

    assert rows[0]["variant"].startswith("as fed")
    assert all(row["batches_per_s"] > 0 for row in rows)
    assert rows[0]["headroom"] == rows[0]["samples_per_s"] / 100.0
    record = json.loads((tmp_path / "pipelines.json").read_text())
    assert record["machine"]["tensorflow"]
    assert record["machine"]["cores"] >= 1
    assert len(record["rows"]) == len(rows)
    table = (tmp_path / "pipelines.md").read_text()
    assert "| mlp | mlp_tiny | as fed" in table
    assert "Machine: " in table


def test_training_flops_count_a_dense_layer_exactly():
    import keras

    from bench.flops import training_flops_per_sample

    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(4)(inputs)
    outputs = keras.layers.Dense(2)(hidden)
    model = keras.Model(inputs, outputs)

    forward, training = training_flops_per_sample(model)

    # First layer: forward + weight gradient; second also its input gradient.
    assert forward == 2 * (8 * 4 + 4 * 2)
    assert training == 2 * 8 * 4 * 2 + 2 * 4 * 2 * 3


def test_table_formatting_handles_missing_values():
    text = common.format_table(
        [("a", "A"), ("b", "B")], [{"a": 1234.5, "b": None}, {"a": 0.123}]
    )
    assert text.splitlines()[2] == "| 1,234 | - |"
    assert text.splitlines()[3] == "| 0.12 | - |"


def test_lever_sweep_standard_and_full():
    from bench.levers import lever_changes
    from zoo.models.mlp import MLPConfig

    case = common.select_cases(["mlp"])[0]
    config = MLPConfig()  # steps_per_execution=32, no XLA
    standard = [
        name for name, *_ in lever_changes(case, config, 32, full=False, quick=False)
    ]
    assert standard == [
        "jit_compile=True",
        "steps_per_execution=1",
        "steps_per_execution=8",
        "jit_compile=True, steps_per_execution=8",
    ]
    full = [
        name for name, *_ in lever_changes(case, config, 32, full=True, quick=False)
    ]
    assert full == standard + ["batch_size=128", "mixed_bfloat16"]
    compute = common.select_cases(["vgg16_transfer"])[0]
    assert lever_changes(compute, config, 32, full=False, quick=False) == []


def test_every_registered_family_has_a_benchmark_case():
    from zoo.registry import list_families

    assert [case.family for case in common.all_cases()] == list_families()
    assert set(common.SETTINGS) <= set(list_families())


def test_semantic_search_table_formats_each_column_its_own_way():
    from bench.semantic_search import _cells

    row = {
        "encoder": "minilm",
        "recall_at_1": 0.25333,
        "recall_at_10": 0.53667,
        "documents_per_second": 8.7939,
        "query_latency_ms_median": 287.79,
    }
    assert _cells(row) == ["0.253", "0.537", "8.8", "287.8"]
    assert _cells({"encoder": "chance", "recall_at_10": 0.01}) == ["", "0.010", "", ""]


def test_peers_timeline_finds_the_first_trial_end_past_the_threshold():
    from bench.peers import timeline

    events = [
        ("begin", 1.0, None),
        ("epoch", 2.0, 0.60),
        ("end", 2.5, None),
        ("begin", 3.0, None),
        ("epoch", 4.0, 0.70),
        ("epoch", 5.0, 0.82),
        ("end", 5.5, None),
        # A refit of the best model after the search (AutoKeras) is no trial.
        ("begin", 6.0, None),
        ("epoch", 7.0, 0.99),
        ("end", 7.5, None),
    ]
    times = timeline(events, wall_s=8.0, trials=2, threshold=0.8)

    assert times["time_to_threshold_s"] == 5.5
    assert times["best_val_accuracy"] == 0.82
    assert times["fit_s"] == 1.5 + 2.5
    assert times["setup_s"] == 1.0
    assert times["between_trials_s"] == 0.5
    assert times["wrap_up_s"] == 2.5
    assert (
        timeline(events, wall_s=8.0, trials=2, threshold=0.9)["time_to_threshold_s"]
        is None
    )


@pytest.mark.slow  # a 1x1 zoo and KerasTuner run (5 s): the bench's own smoke test
def test_peers_quick_run_hands_the_zoo_split_to_keras_tuner(tmp_path):
    from bench import peers

    case = peers.CASES[0]
    splits, facts = peers.load_splits(case)
    arrays = peers.tabular_arrays(splits, facts["numeric_columns"])
    for split, (x, y) in arrays.items():
        assert len(x) == len(y) == facts["sizes"][split]
        assert not np.isnan(x).any()
    assert arrays["train"][0].shape[1] == arrays["test"][0].shape[1]

    quick = ["--quick", "--no-autokeras", "--datasets", "titanic"]
    rows = peers.run(
        peers.make_parser().parse_args(quick + ["--results-dir", str(tmp_path)])
    )

    assert [row["tool"].split()[0] for row in rows] == ["zoo", "KerasTuner"]
    for row in rows:
        assert "error" not in row, row.get("error")
        assert row["trials"] == 1
        assert 0.0 <= row["test_accuracy"] <= 1.0
        assert 0.0 < row["fit_s"] <= row["wall_s"]
        assert row["sizes"] == facts["sizes"]
    assert rows[0]["baseline_accuracy"] == rows[1]["baseline_accuracy"] > 0.5
    record = json.loads((tmp_path / "peers.json").read_text())
    assert record["trials"] == record["epochs"] == 1
    assert "| titanic | KerasTuner script" in (tmp_path / "peers.md").read_text()


def test_ceiling_trains_the_default_model_on_cached_batches():
    from bench.levers import measure_ceiling

    case = common.select_cases(["mlp"])[0]
    family, config, bundle, _ = common.load_case(case, quick=True)

    result = measure_ceiling(
        family, config, bundle, batch_size=8, steps=3, seconds=0.05, min_epochs=2
    )

    assert result["train_samples_per_s"] > 0
    # Fewer steps than one execution still make one execution's worth.
    assert result["steps_per_execution"] == 32
    assert result["jit_compile"] == config.jit_compile
