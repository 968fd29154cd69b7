"""The corpus families: word_lm, cloze and text_generator, model side."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_model_test
from zoo.datasets.corpus import corpus_bundle
from zoo.errors import ConfigError
from zoo.registry import build_for_bundle, get_family, list_models, resolve_config
from zoo.tuning.train import export_model

VOCABULARY = 30
# Recurrent layers trace slowly on CPU: the default run builds the MLP ones.
TINY = [
    n if "rnn" not in n and "gru" not in n else pytest.param(n, marks=pytest.mark.slow)
    for n in list_models(tiny=True)
    if get_family(n).data_kind == "corpus"
]
TEXT = " ".join(
    [
        "the",
        "king",
        "is",
        "dead",
        "and",
        "the",
        "queen",
        "is",
        "sad",
        "and",
        "the",
        "prince",
        "is",
        "mad",
    ]
    * 12
)


def _input_length(name):
    config = resolve_config(name)[1]
    return {
        "word_lm": lambda: config.context,
        "cloze": lambda: 2 * config.window,
        "text_generator": lambda: config.sequence_length,
    }[get_family(name).name]()


@pytest.mark.parametrize("name", TINY)
def test_tiny_corpus_variants(name, tmp_path):
    length = _input_length(name)
    rng = np.random.default_rng(0)
    x = rng.integers(2, VOCABULARY, size=(4, length)).astype("int32")
    sequences = get_family(name).name == "text_generator"
    y = (
        rng.integers(2, VOCABULARY, size=(4, length))
        if sequences
        else rng.integers(2, VOCABULARY, size=4)
    )
    run_model_test(
        name,
        input_shape=(length,),
        num_classes=VOCABULARY,
        x=x,
        y=y.astype("int32"),
        tmp_path=tmp_path,
    )


def test_families_refuse_data_that_is_not_a_corpus():
    family, config = resolve_config("word_lm_tiny")
    with pytest.raises(ConfigError, match="give it a corpus"):
        family.build(config, input_shape=(2,), num_classes=None)
    with pytest.raises(ConfigError, match="takes 2 token ids"):
        family.build(config, input_shape=(5,), num_classes=VOCABULARY)
    with pytest.raises(ConfigError, match="min_count must be"):
        resolve_config("cloze_tiny", min_count=0)


def test_the_exported_word_lm_reads_raw_text_with_its_vocabulary(tmp_path):
    family, config = resolve_config("word_lm_tiny", {"max_tokens": None})
    bundle = corpus_bundle([TEXT], **family.data_options(config))
    preprocessing = family.adapt(config, bundle)
    network = build_for_bundle(family, config, bundle)
    exported = export_model(network, preprocessing)
    path = tmp_path / "lm.keras"
    exported.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    vocabulary = bundle.extras["vocabulary"]
    ids = np.array([[vocabulary.index("queen"), vocabulary.index("is")]])
    expected = network.predict(ids, verbose=0)
    # Only the last two words count, in order, lower-cased and unpunctuated.
    got = np.asarray(loaded(tf.constant(["And the Queen is"])))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert loaded.get_layer("text_vectorization").get_vocabulary() == vocabulary


def test_the_exported_cloze_model_takes_both_sides(tmp_path):
    family, config = resolve_config("cloze_tiny", {"max_tokens": None})
    bundle = corpus_bundle([TEXT], **family.data_options(config))
    network = build_for_bundle(family, config, bundle)
    exported = export_model(network, family.adapt(config, bundle))
    vocabulary = bundle.extras["vocabulary"]
    ids = np.array([[vocabulary.index("king"), vocabulary.index("dead")]])
    got = exported(
        {
            "before": tf.constant(["long live the king"]),
            "after": tf.constant(["dead man"]),
        }
    )
    np.testing.assert_allclose(got, network.predict(ids, verbose=0), rtol=1e-5)


def test_bidirectional_cloze_reads_each_side_with_its_own_layer():
    family, config = resolve_config("cloze_birnn_tiny", window=2)
    model = family.build(config, input_shape=(4,), num_classes=VOCABULARY)
    left, right = model.get_layer("left_rnn"), model.get_layer("right_rnn")
    assert not left.go_backwards and right.go_backwards
    assert model.get_layer("left_words").output.shape[1] == 2
    one_way = family.build(
        resolve_config("cloze_birnn_tiny", bidirectional=False)[1],
        input_shape=(2,),
        num_classes=VOCABULARY,
    )
    assert one_way.get_layer("context_rnn").input.shape[1] == 2
