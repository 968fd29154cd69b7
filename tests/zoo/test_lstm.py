"""Recurrent text classifier and forecaster."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_model_test
from zoo.datasets.text import make_text_bundle
from zoo.datasets.timeseries import make_series_bundle
from zoo.errors import ConfigError, DataError
from zoo.models.lstm import adapt_lstm, build_lstm, read_word_vectors
from zoo.models.lstm_forecaster import (
    AddLastValue,
    adapt_forecaster,
    build_lstm_forecaster,
    evaluate_forecaster,
)
from zoo.registry import (
    build_for_bundle,
    create_model,
    get_family,
    list_models,
    resolve_config,
)
from zoo.tuning.artifacts import write_evaluation
from zoo.tuning.train import export_model, preprocess

# Recurrent layers trace slowly on CPU: the default run builds one tiny text variant.
TEXT_MODELS = [
    n if n == "lstm_tiny" else pytest.param(n, marks=pytest.mark.slow)
    for n in list_models(tiny=True)
    if get_family(n).name == "lstm"
]
FORECASTERS = [
    n for n in list_models(tiny=True) if get_family(n).name == "lstm_forecaster"
]


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_tiny_text_variants(name, tmp_path):
    config = resolve_config(name)[1]
    ids = np.random.default_rng(0).integers(
        0, config.max_tokens, size=(4, config.sequence_length)
    )
    ids[0, 3:] = 0  # padding
    run_model_test(
        name,
        input_shape=(config.sequence_length,),
        num_classes=3,
        x=ids,
        y=np.array([0, 1, 2, 1]),
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("name", FORECASTERS)
def test_tiny_forecasters(name, tmp_path):
    config = resolve_config(name)[1]
    x = np.random.default_rng(0).normal(size=(4, config.window, 2)).astype("float32")
    y = np.random.default_rng(1).normal(size=(4, config.horizon)).astype("float32")
    run_model_test(
        name,
        input_shape=(config.window, 2),
        num_classes=None,
        x=x,
        y=y,
        tmp_path=tmp_path,
    )


def test_cell_types_and_bidirectional():
    for rnn_type, layer in (
        ("lstm", "LSTM"),
        ("gru", "GRU"),
        ("simple_rnn", "SimpleRNN"),
    ):
        model = create_model(
            "lstm_tiny",
            input_shape=(8,),
            num_classes=2,
            rnn_type=rnn_type,
            bidirectional=True,
        )
        wrapper = model.get_layer("bidirectional_1")
        assert type(wrapper.forward_layer).__name__ == layer
    with pytest.raises(ConfigError, match="rnn_type must be one of"):
        resolve_config("lstm_tiny", rnn_type="transformer")
    with pytest.raises(ConfigError, match="token ids"):
        create_model("lstm_tiny", input_shape=(9,), num_classes=2)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config("lstm_tiny", pretrained_embeddings="/no/such/glove.txt")


def _sentiment_bundle(n=120):
    good = ["great", "lovely", "superb", "wonderful"]
    bad = ["awful", "boring", "terrible", "dreadful"]
    texts, labels = [], []
    for i in range(n):
        words = good if i % 2 else bad
        texts.append(f"the film was {words[i % 4]} and {words[(i // 2) % 4]} indeed")
        labels.append("pos" if i % 2 else "neg")
    return make_text_bundle(texts, labels, seed=0, validation_split=0.1, test_split=0.2)


def test_vocabulary_comes_from_training_split_only():
    texts = [f"common word{i}" for i in range(40)]
    labels = ["a", "b"] * 20
    bundle = make_text_bundle(
        texts, labels, seed=0, validation_split=0.25, test_split=0.25
    )
    preprocessing = adapt_lstm(resolve_config("lstm_tiny", max_tokens=100)[1], bundle)
    adapted = preprocess(bundle, preprocessing)
    vocabulary = set(preprocessing.layer.get_vocabulary())
    train_words = {x.numpy().decode().split()[1] for x, _ in bundle.train}
    held_out = {
        x.numpy().decode().split()[1]
        for x, _ in bundle.test.concatenate(bundle.validation)
    }
    assert train_words <= vocabulary
    assert not (held_out & vocabulary)
    assert adapted.train.element_spec[0].shape == (8,)
    assert adapted.info["vocabulary_size"] == len(vocabulary)


def test_text_classifier_learns_and_export_takes_raw_strings(tmp_path):
    config = resolve_config("lstm_tiny", learning_rate=0.02)[1]
    preprocessing = adapt_lstm(config, _sentiment_bundle())
    bundle = preprocess(_sentiment_bundle(), preprocessing)
    model = build_lstm(config, input_shape=bundle.input_shape, num_classes=2)
    get_family("lstm").compile(model, config, num_classes=2)
    model.fit(bundle.batches("train", 16), epochs=12, verbose=0)
    assert (
        model.evaluate(bundle.batches("test", 32), return_dict=True, verbose=0)[
            "accuracy"
        ]
        >= 0.9
    )
    export_model(model, preprocessing).save(tmp_path / "lstm.keras")
    loaded = keras.saving.load_model(tmp_path / "lstm.keras", safe_mode=True)
    scores = loaded.predict(
        tf.constant(["the film was superb and great", "the film was awful, dreadful"]),
        verbose=0,
    )
    assert scores[0, 0] > 0.5 > scores[1, 0]


def test_glove_file_initialises_frozen_embedding(tmp_path):
    glove = tmp_path / "glove.txt"
    glove.write_text("great 1 2 3 4\nawful -1 -2 -3 -4\nunused 9 9 9 9\n")
    config = resolve_config(
        "lstm_tiny", pretrained_embeddings=str(glove), train_embeddings=False
    )[1]
    preprocessing = adapt_lstm(config, _sentiment_bundle())
    bundle = preprocess(_sentiment_bundle(), preprocessing)
    vocabulary = preprocessing.layer.get_vocabulary()
    model = build_for_bundle(get_family("lstm"), config, bundle, preprocessing)
    embedding = model.get_layer("embedding")
    assert not embedding.trainable
    weights = keras.ops.convert_to_numpy(embedding.embeddings)
    np.testing.assert_allclose(weights[vocabulary.index("great")], [1, 2, 3, 4])
    np.testing.assert_allclose(weights[vocabulary.index("awful")], [-1, -2, -3, -4])
    np.testing.assert_allclose(weights[0], 0)
    assert 0 < bundle.info["pretrained_coverage"] < 1
    with pytest.raises(ConfigError, match="embedding_dim=4"):
        read_word_vectors(str(glove), ["", "[UNK]", "great"], 3)


def test_adapt_rejects_non_text():
    bundle = make_text_bundle(["a b", "c d"] * 5, ["x", "y"] * 5).map(
        lambda x, y: (tf.strings.length(x), y)
    )
    with pytest.raises(DataError, match="raw text"):
        adapt_lstm(resolve_config("lstm_tiny")[1], bundle)


def test_add_last_value_makes_zero_change_the_persistence_forecast():
    window = np.arange(12, dtype="float32").reshape(2, 3, 2)
    out = AddLastValue(0)(window, np.zeros((2, 4), "float32"))
    np.testing.assert_allclose(out, [[4, 4, 4, 4], [10, 10, 10, 10]])


def _sine_bundle(horizon=1):
    steps = np.arange(400)
    dates = np.datetime64("2020-01-01") + steps.astype("timedelta64[D]")
    values = (50 + 10 * np.sin(steps * 2 * np.pi / 25)).astype("float32")[:, None]
    return make_series_bundle(
        dates,
        values,
        ["level"],
        window=25,
        horizon=horizon,
        validation_split=0.15,
        test_split=0.15,
    )


def test_forecaster_beats_persistence_in_original_units(tmp_path):
    raw = _sine_bundle(horizon=3)
    config = resolve_config(
        "lstm_forecaster_tiny",
        window=25,
        horizon=3,
        rnn_units=(16,),
        learning_rate=0.01,
    )[1]
    preprocessing = adapt_forecaster(config, raw)
    bundle = preprocess(raw, preprocessing)
    model = build_lstm_forecaster(config, input_shape=bundle.input_shape)
    get_family("lstm_forecaster").compile(model, config, num_classes=None)
    model.fit(bundle.batches("train", 32), epochs=15, verbose=0)
    evaluation = evaluate_forecaster(model, config, bundle)
    metrics = evaluation.metrics
    write_evaluation(evaluation, str(tmp_path))
    # A sine is easy to forecast and persistence is poor on it.
    assert (
        metrics["test_rmse_original"] < 0.5 * metrics["persistence_test_rmse_original"]
    )
    assert metrics["persistence_test_mae_original"] > 1.0  # original units, not scaled
    assert (tmp_path / "plots" / "forecast.png").stat().st_size > 1000


def test_untrained_change_model_equals_persistence(tmp_path):
    raw = _sine_bundle()
    config = resolve_config("lstm_forecaster_tiny", window=25, horizon=1)[1]
    model = build_lstm_forecaster(config, input_shape=raw.input_shape)
    model.get_layer("predictions").set_weights([np.zeros((4, 1)), np.zeros(1)])
    bundle = preprocess(raw, adapt_forecaster(config, raw))
    metrics = evaluate_forecaster(model, config, bundle).metrics
    assert metrics["test_rmse_original"] == pytest.approx(
        metrics["persistence_test_rmse_original"], rel=1e-5
    )


def test_forecaster_config_errors():
    with pytest.raises(ConfigError, match="window and horizon"):
        resolve_config("lstm_forecaster_tiny", horizon=0)
    with pytest.raises(ConfigError, match="windows of shape"):
        create_model("lstm_forecaster_tiny", input_shape=(7, 1), num_classes=None)
    with pytest.raises(ConfigError, match="predicts numbers"):
        create_model("lstm_forecaster_tiny", input_shape=(6, 1), num_classes=3)


def test_batches_are_cut_to_their_longest_text_unless_xla():
    texts = [" ".join(["word"] * (1 + i % 5)) for i in range(60)]
    bundle = make_text_bundle(
        texts, ["a", "b"] * 30, seed=0, validation_split=0.1, test_split=0.1
    )
    config = resolve_config("lstm_tiny", sequence_length=12)[1]
    adapted = preprocess(bundle, adapt_lstm(config, bundle))
    for split in ("train", "test"):
        for tokens, _ in adapted.batches(split, 8):
            lengths = (tokens.numpy() != 0).sum(1)
            assert tokens.shape[1] == lengths.max() <= 5
    xla_config = resolve_config("lstm_tiny", sequence_length=12, jit_compile=True)[1]
    xla = preprocess(bundle, adapt_lstm(xla_config, bundle))
    tokens, _ = next(iter(xla.batches("train", 8)))
    assert tokens.shape[1] == 12
