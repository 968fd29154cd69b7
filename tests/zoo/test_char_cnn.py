"""Character-level CNN: quantizer, builder, schedule, raw-string export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_model_test
from zoo.datasets.text import make_text_bundle
from zoo.errors import ConfigError, DataError
from zoo.models.char_cnn import (
    ALPHABET,
    CharCNNConfig,
    CharQuantizer,
    adapt_char_cnn,
    build_char_cnn,
    compile_char_cnn,
    fit_char_cnn,
    halving_schedule,
)
from zoo.registry import create_model, list_models, resolve_config
from zoo.tuning.train import export_model, preprocess

TEXTS = tf.constant(["good fun film", "bad dull film", "great!", "awful..."])
LABELS = np.array([0, 1, 0, 1])


def test_quantizer_maps_alphabet_pads_reverses_and_drops_unknown():
    quantizer = CharQuantizer(sequence_length=6)
    out = quantizer(tf.constant(["Ab", "abc\u00e9 xyz", ""])).numpy()
    assert out.shape == (3, 6)
    # Lower-cased, read backwards, padded with 0.
    assert out[0].tolist() == [2, 1, 0, 0, 0, 0]
    # First 6 characters "abcé x", reversed; "é" and " " are outside the alphabet.
    assert out[1].tolist() == [24, 0, 0, 3, 2, 1]
    assert out[2].tolist() == [0] * 6
    forward = CharQuantizer(sequence_length=3, reverse=False, lowercase=False)
    assert forward(tf.constant(["aB}"])).numpy().tolist() == [
        [1, 0, ALPHABET.index("}") + 1]
    ]
    assert quantizer.vocabulary_size == len(ALPHABET) + 1 == 70


def test_quantizer_round_trips_through_config():
    quantizer = CharQuantizer(sequence_length=5, reverse=False)
    clone = CharQuantizer.from_config(quantizer.get_config())
    text = tf.constant(["hello, world"])
    np.testing.assert_array_equal(quantizer(text), clone(text))


@pytest.mark.parametrize("name", list_models("char_cnn*", tiny=True))
def test_tiny_variants_on_raw_strings(name, tmp_path):
    run_model_test(
        name, input_shape=(), num_classes=2, x=TEXTS, y=LABELS, tmp_path=tmp_path
    )


def test_tiny_on_character_indices_multiclass(tmp_path):
    _, config = resolve_config("char_cnn_tiny")
    indices = CharQuantizer(sequence_length=config.sequence_length)(TEXTS)
    run_model_test(
        "char_cnn_tiny",
        input_shape=(config.sequence_length,),
        num_classes=4,
        x=indices,
        y=np.arange(4),
        tmp_path=tmp_path,
    )


def test_paper_sizes():
    small = create_model("char_cnn_small", input_shape=(), num_classes=4)
    # 1014 characters -> 34 positions after six convolutions and three pools.
    assert small.get_layer("flatten").output.shape[-1] == 34 * 256
    assert small.get_layer("dense_1").units == 1024
    large_config = resolve_config("char_cnn_large")[1]
    assert (large_config.filters, large_config.dense_units) == (1024, 2048)
    learned = create_model(
        "char_cnn_tiny", input_shape=(), num_classes=2, embedding="learned"
    )
    assert learned.get_layer("char_embedding").output_dim == 16


def test_config_errors():
    with pytest.raises(ConfigError, match="too short"):
        resolve_config("char_cnn_small", sequence_length=20)
    with pytest.raises(ConfigError, match="one per convolution"):
        resolve_config("char_cnn_small", pool_sizes=(3, 3))
    with pytest.raises(ConfigError, match="embedding must be one of"):
        resolve_config("char_cnn_small", embedding="bytes")
    with pytest.raises(ConfigError, match="input_shape"):
        create_model("char_cnn_tiny", input_shape=(7,), num_classes=2)


def test_halving_schedule_every_three_epochs_ten_times():
    schedule = halving_schedule(0.01, 3, 10)
    rates = [schedule(epoch) for epoch in range(0, 40)]
    assert rates[:3] == pytest.approx([0.01] * 3)
    assert rates[3] == pytest.approx(0.005) and rates[6] == pytest.approx(0.0025)
    assert rates[39] == pytest.approx(0.01 / 1024)


def test_fit_halves_the_learning_rate():
    config = resolve_config("char_cnn_tiny", lr_halving_epochs=1)[1]
    model = build_char_cnn(config, input_shape=(), num_classes=2)
    compile_char_cnn(model, config, num_classes=2)
    assert model.optimizer.momentum == pytest.approx(0.9)
    data = tf.data.Dataset.from_tensor_slices((TEXTS, LABELS)).batch(2)
    history = fit_char_cnn(model, config, data, epochs=3, verbose=0)
    assert history["learning_rate"] == pytest.approx([0.01, 0.005, 0.0025])


def _toy_bundle(n=96):
    texts = [("zzq " if i % 2 else "aab ") * 3 + str(i) for i in range(n)]
    labels = ["z" if i % 2 else "a" for i in range(n)]
    return make_text_bundle(texts, labels, seed=0, validation_split=0.1, test_split=0.2)


def test_adapted_model_learns_and_export_takes_raw_strings(tmp_path):
    config = resolve_config("char_cnn_tiny", optimizer="adam")[1]
    preprocessing = adapt_char_cnn(config, _toy_bundle())
    bundle = preprocess(_toy_bundle(), preprocessing)
    assert bundle.input_shape == (config.sequence_length,)
    assert bundle.train.element_spec[0].dtype == tf.int32
    model = build_char_cnn(config, input_shape=bundle.input_shape, num_classes=2)
    compile_char_cnn(model, config, num_classes=2)
    model.fit(bundle.batches("train", 16), epochs=15, verbose=0)
    accuracy = model.evaluate(bundle.batches("test", 16), return_dict=True, verbose=0)[
        "accuracy"
    ]
    assert accuracy == 1.0
    path = tmp_path / "char_cnn.keras"
    export_model(model, preprocessing).save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    scores = loaded.predict(tf.constant(["aab aab aab 7", "zzq zzq zzq 8"]), verbose=0)
    assert scores[0, 0] < 0.5 < scores[1, 0]


def test_adapt_rejects_non_text():
    bundle = make_text_bundle(["a b", "c d"] * 5, ["x", "y"] * 5)
    numeric = bundle.map(lambda x, y: (tf.strings.length(x), y))
    with pytest.raises(DataError, match="raw text"):
        adapt_char_cnn(CharCNNConfig(), numeric)


@pytest.mark.slow
def test_index_model_xla_compiles():
    config = resolve_config("char_cnn_tiny", jit_compile=True)[1]
    bundle = adapt_char_cnn(config, _toy_bundle(32))
    model = build_char_cnn(config, input_shape=bundle.input_shape, num_classes=2)
    compile_char_cnn(model, config, num_classes=2)
    history = fit_char_cnn(
        model, config, bundle.batches("train", 8), epochs=1, verbose=0
    )
    assert np.isfinite(history["loss"][0])
