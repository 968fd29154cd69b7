"""`export()`: a finished run's model as a TensorFlow SavedModel.

The run's `model.keras` already takes raw inputs (its fitted preprocessing
is inside). `model.export` (Keras' `ExportArchive`) traces it into a
SavedModel whose `serve` function takes those same raw inputs, so TF
Serving, TFLite converters or a bare `tf.saved_model.load(path).serve(x)`
use it without the zoo or Keras installed.

Example:
>>> from zoo.tuning.export import export  # doctest: +SKIP
>>> export("runs/mlp", "served/mlp")  # doctest: +SKIP
>>> import tensorflow as tf  # doctest: +SKIP
>>> tf.saved_model.load("served/mlp").serve({"age": [29.0], ...})  # doctest: +SKIP
"""

import os
import shutil
import tempfile

import keras
import tensorflow as tf

from zoo.errors import ZooError
from zoo.tuning.predict import load_run


def export(run_dir, out, *, safe_mode=True):
    """Writes the model of a `zoo train` or `zoo tune` run as a SavedModel.

    Args:
        run_dir: A finished run folder (a search folder exports `best/`).
        out: The SavedModel folder to write; it must not exist yet (or be
            empty). Written beside under a temporary name, then renamed.
        safe_mode: See `zoo.tuning.predict.load_run`.

    Returns:
        The absolute path of the SavedModel folder.

    Raises:
        ZooError: The run is not finished, `out` already holds files, or the
            model cannot be traced into a SavedModel (the error says which).
    """
    _check_new(out)
    _, model = load_run(run_dir, safe_mode=safe_mode)
    return export_saved_model(model, out, source=os.fspath(run_dir))


def export_saved_model(model, out, *, source="this model"):
    """`model.export(out)` written under a temporary name, then renamed.

    Args:
        model: A Keras model that takes raw inputs (a run's `model.keras`).
        out: The SavedModel folder to write.
        source: What to call the model in an error.

    Returns:
        The absolute path of the SavedModel folder.
    """
    out = _check_new(out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.", dir=parent)
    os.chmod(temporary, 0o755)  # mkdtemp's 0700 would hide it from a server.
    try:
        try:
            model.export(
                temporary,
                format="tf_saved_model",
                input_signature=_input_signature(model),
                verbose=False,
            )
        except (ValueError, TypeError, NotImplementedError) as error:
            first = str(error).strip().splitlines()[0][:200]
            raise ZooError(
                f"{source} cannot be exported as a SavedModel ({first}); use its "
                "model.keras with `import zoo` instead."
            ) from None
        if os.path.isdir(out):
            os.rmdir(out)
        os.replace(temporary, out)
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
    return out


def _check_new(out):
    out = os.path.abspath(os.fspath(out))
    if os.path.isfile(out) or (os.path.isdir(out) and os.listdir(out)):
        raise ZooError(
            f"{out} already exists; give a new folder for the SavedModel "
            "(or delete the old one first)."
        )
    return out


def _input_signature(model):
    """None for a Functional model (Keras reads its inputs); for a subclassed
    one (JointVAE), the input shape its build config records: loaded from a
    file, it was never called, so Keras has no shape to trace with."""
    if getattr(model, "inputs", None):
        return None
    shape = (model.get_build_config() or {}).get("input_shape")
    if not shape or not all(d is None or isinstance(d, int) for d in shape):
        return None
    return [tf.TensorSpec((None, *shape[1:]), keras.backend.floatx())]
