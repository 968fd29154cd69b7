"""`zoo export`: a SavedModel that serves raw inputs where the zoo is not installed.

The served models run in one fresh interpreter started with `-I -S`: no
`.pth` file is processed, so the editable install's finder never runs; the
venv's site-packages folders are appended to `sys.path` by hand (TensorFlow
is there), and the script first checks that `import zoo` fails.
"""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import ZooError
from zoo.registry import build_for_bundle, get_family, list_models
from zoo.tuning.callbacks import CallbackOptions
from zoo.tuning.cli.main import main
from zoo.tuning.export import export, export_saved_model
from zoo.tuning.predict import load_run
from zoo.tuning.train import export_model, prepare, train

_SERVER = textwrap.dedent(
    """
    import json, sys
    sys.path.extend(json.loads(sys.argv[1]))
    try:
        import zoo  # noqa: F401
    except ImportError:
        pass
    else:
        sys.exit("zoo is importable: the test would prove nothing")
    import numpy as np
    import tensorflow as tf

    def tensor(spec):
        return tf.constant(spec["values"], dtype=spec["dtype"])

    answers = {}
    for name, job in json.load(open(sys.argv[2])).items():
        inputs = job["inputs"]
        if "dtype" in inputs:
            inputs = tensor(inputs)
        else:
            inputs = {key: tensor(value) for key, value in inputs.items()}
        served = tf.saved_model.load(job["path"])
        out = np.asarray(served.serve(inputs))
        answers[name] = bool(
            np.allclose(out, job["expected"], rtol=1e-4, atol=1e-5)
        )
    assert "zoo" not in sys.modules
    print(json.dumps(answers))
    """
)


def _spec(value):
    value = np.asarray(value)
    if value.dtype.kind in "SOU":
        strings = [v.decode() if isinstance(v, bytes) else str(v) for v in value.flat]
        return {"values": np.reshape(strings, value.shape).tolist(), "dtype": "string"}
    return {"values": value.tolist(), "dtype": str(value.dtype)}


def _job(path, model, raw):
    expected = np.asarray(model.predict(raw, verbose=0))
    inputs = {k: _spec(v) for k, v in raw.items()} if isinstance(raw, dict) else None
    return {
        "path": str(path),
        "inputs": inputs or _spec(raw),
        "expected": expected.tolist(),
    }


def _prepared_model(name, data_options=None):
    """The model `zoo train` saves (raw inputs in), untrained, and two raw inputs."""
    prepared = prepare(name, data_options=data_options, seed=0)
    family, config, bundle = prepared.family, prepared.config, prepared.bundle
    network = build_for_bundle(family, config, bundle, prepared.preprocessing)
    model = export_model(network, prepared.preprocessing)
    if prepared.preprocessing is not None and prepared.preprocessing.export_front:
        # Corpus models: the loader holds encoded windows; the model takes text.
        texts = tf.constant(["the old man and the sea", "it was a dark night"])
        inputs = model.input
        return model, {k: texts for k in inputs} if isinstance(inputs, dict) else texts
    batch = next(iter(prepared.raw.test.batch(2)))
    return model, batch[0] if isinstance(batch, tuple) else batch


@pytest.fixture(scope="module")
def titanic_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("export") / "titanic"
    options = CallbackOptions(
        tensorboard=False, checkpoint=False, backup=False, early_stopping_patience=0
    )
    train(
        "mlp_tiny", "titanic", run_dir=run_dir, epochs=1, callbacks=options, verbose=0
    )
    return run_dir


def test_saved_models_serve_raw_inputs_without_the_zoo(titanic_run, tmp_path):
    jobs = {}
    # A tabular MLP through the command line: a dict of raw columns, with a
    # missing number and category strings.
    out = tmp_path / "titanic_served"
    assert main(["export", str(titanic_run), str(out)]) == 0
    _, model = load_run(titanic_run)
    rows = {
        "age": tf.constant([[29.0], [np.nan]]),
        "passengerClass": tf.constant([["1st"], ["3rd"]]),
        "sex": tf.constant([["female"], ["male"]]),
    }
    jobs["tabular"] = _job(out, model, rows)

    # A CNN on 0..255 pixels and a text model on raw strings.
    image_model, images = _prepared_model("cnn_tiny")
    assert float(tf.reduce_max(images)) > 1  # Raw pixels, scaled inside.
    jobs["image"] = _job(
        export_saved_model(image_model, tmp_path / "cnn_served"), image_model, images
    )
    text_model, _ = _prepared_model("char_cnn_tiny")
    texts = tf.constant(["a warm, funny film", "dull and far too long"])
    jobs["text"] = _job(
        export_saved_model(text_model, tmp_path / "text_served"), text_model, texts
    )

    job_file = tmp_path / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    site_packages = [
        p for p in sys.path if p.endswith(("site-packages", "dist-packages"))
    ]
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            _SERVER,
            json.dumps(site_packages),
            str(job_file),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # Not the repository, whose `zoo/` folder would import.
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers == {"tabular": True, "image": True, "text": True}


def test_export_refuses_a_used_folder_and_an_unfinished_run(titanic_run, tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    with pytest.raises(ZooError, match="already exists"):
        export(titanic_run, used)
    assert (used / "keep.txt").read_text() == "mine"
    with pytest.raises(ZooError, match="no finished run"):
        export(tmp_path, tmp_path / "out")
    assert main(["export", str(tmp_path), str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models(tiny=True))
def test_every_tiny_variant_exports(name, tmp_path):
    # What the README promises: every family's saved model, loaded from its
    # file as `zoo export` loads it, traces into a SavedModel serving raw inputs.
    options = {"image": {"image_size": 32}}.get(get_family(name).data_kind)
    model, raw = _prepared_model(name, options)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    served = tf.saved_model.load(export_saved_model(loaded, tmp_path / "served"))
    expected = np.asarray(tf.nest.flatten(loaded.predict(raw, verbose=0))[0])
    answer = np.asarray(tf.nest.flatten(served.serve(raw))[0])
    np.testing.assert_allclose(answer, expected, rtol=1e-4, atol=1e-5)
