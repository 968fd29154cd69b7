"""Every registered tiny variant, as timm tests every registered model.

The registry is the test list: a family is tested the moment it registers a
`tiny=True` variant. Each goes through its family's default data and
preprocessing (what `zoo train` does), then: forward on two examples with the
expected output shape, the config's JSON round trip, one fit step, and the
exported model (raw inputs in) saved and loaded with `safe_mode=True` in a
fresh process, which must predict the same from raw inputs (rows, images,
strings: the corpus models' raw text too).
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.config import config_from_dict, config_to_dict
from zoo.registry import build_for_bundle, list_models
from zoo.tuning.train import export_model, fit_inputs, prepare

TINY = list_models(tiny=True)
# Data options that keep the default datasets small for a test.
SMALL_DATA = {"image": {"image_size": 32}}

# A fresh interpreter that loads each saved model it is sent and predicts,
# after `import zoo` only (its import hook registers the zoo's classes).
_LOADER = textwrap.dedent(
    """
    import json, sys
    import zoo  # The only zoo import a user needs before loading.
    import keras, numpy as np, tensorflow as tf
    for line in sys.stdin:
        job = json.loads(line)
        try:
            model = keras.saving.load_model(job["path"], safe_mode=True)
            def array(values):
                values = np.asarray(values)
                return tf.constant(values) if values.dtype.kind == "U" else values
            inputs = job["inputs"]
            if isinstance(inputs, dict):
                inputs = {k: array(v) for k, v in inputs.items()}
            else:
                inputs = array(inputs)
            out = model.predict(inputs, verbose=0)
            out = out[0] if isinstance(out, (list, tuple)) else out
            ok = np.allclose(np.asarray(out), job["expected"], rtol=1e-4, atol=1e-5)
            print(json.dumps({"ok": bool(ok)}), flush=True)
        except Exception as error:
            print(json.dumps({"ok": False, "error": repr(error)[:500]}), flush=True)
    """
)


@pytest.fixture(scope="module")
def fresh_loader():
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [sys.executable, "-c", _LOADER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment,
    )

    def load_and_predict(path, inputs, expected):
        job = {"path": str(path), "inputs": inputs, "expected": expected}
        process.stdin.write(json.dumps(job) + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    yield load_and_predict
    process.stdin.close()
    process.wait(timeout=60)


def _jsonable(raw):
    def convert(value):
        value = np.asarray(value)
        if value.dtype.kind in "SO":
            return [v.decode() if isinstance(v, bytes) else v for v in value.tolist()]
        return value.tolist()

    if isinstance(raw, dict):
        return {k: convert(v) for k, v in raw.items()}
    return convert(raw)


def _expected_shape(bundle, config, model):
    if bundle.task == "binary":
        return (2, 1)
    if bundle.task == "multiclass":
        return (2, bundle.num_classes)
    if bundle.task == "forecast":
        return (2, config.horizon)
    if bundle.task == "reconstruction":
        return (2, *bundle.input_shape)
    # Other tasks (detection slots) answer what the model declares.
    return (2, *model.output_shape[1:])


@pytest.mark.parametrize("name", TINY)
def test_tiny_variant(name, tmp_path, fresh_loader):
    from zoo.registry import get_family

    prepared = prepare(
        name, data_options=SMALL_DATA.get(get_family(name).data_kind), seed=0
    )
    family, config, bundle = prepared.family, prepared.config, prepared.bundle
    assert config_from_dict(type(config), config_to_dict(config)) == config

    model = build_for_bundle(family, config, bundle, prepared.preprocessing)
    output = model(_first(bundle.test, 2), training=False)
    output = output[0] if isinstance(output, list | tuple) else output
    expected = _expected_shape(bundle, config, model)
    assert len(output.shape) == len(expected)
    assert all(e is None or e == o for e, o in zip(expected, output.shape))
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(output)))

    family.compile(model, config, num_classes=bundle.num_classes, total_steps=1)
    train, kwargs = fit_inputs(model, bundle, 2, seed=0)
    kwargs.pop("validation_data")
    kwargs["steps_per_epoch"] = 1
    history = model.fit(train, epochs=1, verbose=0, **kwargs).history
    assert all(np.all(np.isfinite(v)) for v in history.values())

    exported = export_model(model, prepared.preprocessing)
    path = tmp_path / f"{name}.keras"
    exported.save(path)
    preprocessing = prepared.preprocessing
    if preprocessing is not None and preprocessing.export_front is not None:
        # The loader encoded these examples already (corpus windows); the
        # exported model takes raw text, so it is fed two strings.
        raw = _raw_texts(exported)
    else:
        raw = _first(prepared.raw.test, 2)
    expected = exported.predict(raw, verbose=0)
    expected = expected[0] if isinstance(expected, list | tuple) else expected
    answer = fresh_loader(path, _jsonable(raw), np.asarray(expected).tolist())
    assert answer == {"ok": True}, answer


def _raw_texts(model):
    """Two texts for each of the model's string inputs (one, or a dict)."""
    texts = tf.constant(["the old man and the sea", "it was a dark night"])
    if isinstance(model.input, dict):
        return {name: texts for name in model.input}
    return texts


def _first(split, count):
    """The first `count` inputs of a split, as a batch."""
    batch = next(iter(split.batch(count)))
    return batch[0] if isinstance(batch, tuple) else batch


def test_importing_a_family_module_first_registers_without_a_cycle():
    # Keras first imported by a family module: the registration hook must
    # not re-enter the half-imported module (it warned of a circular import).
    script = (
        "import warnings; warnings.simplefilter('error')\n"
        "import zoo.models.cnn\n"
        "from zoo.registry import list_models\n"
        "assert 'cnn_detector_tiny' in list_models(), list_models()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
