"""What every benchmark shares: the machine, the cases, clocks and result tables.

A *case* is one family's default variant on its default dataset. Benchmarks
load it through the registry (`zoo.tuning.train.prepare`, `build_from_config`,
`family.compile`), exactly as `zoo train` does, and skip (with the reason) a
family that is not registered yet or whose data cannot be loaded here.
"""

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time

import numpy as np

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


# The machine ------------------------------------------------------------------


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (or `platform.processor()`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    """Vector-instruction flags that matter for TensorFlow on CPU."""
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "avx_vnni")
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [flag for flag in wanted if flag in flags]
    except OSError:
        pass
    return []


def machine_info():
    """A JSON-able description of the machine and the software versions."""
    import keras
    import tensorflow as tf

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average_1_5_15": load,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def machine_line(info):
    load = info.get("load_average_1_5_15")
    return (
        f"{info['cpu']} ({', '.join(info['cpu_flags']) or 'no AVX flags'}), "
        f"{info['usable_cores']} usable of {info['cores']} cores, "
        f"load average {load[0] if load else '?'}; "
        f"Python {info['python']}, TensorFlow {info['tensorflow']}, "
        f"Keras {info['keras']}; {info['date']}"
    )


# The cases --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """One family's default variant, as the benchmarks run it.

    Attributes:
        family: Registered family name.
        model: Registered variant or family name (the family's default).
        quick_model: A tiny variant for `--quick` smoke runs.
        data: Dataset name, or None for the family's default.
        bound: "overhead" (small per-step work: Python/launch overhead
            dominates), "compute" (big matmuls/convolutions dominate) or
            "other"; decides which target applies.
        max_steps: Batches per timed epoch at most (keeps big models short).
        overrides: Config changes for the benchmark (none by default).
    """

    family: str
    model: str
    quick_model: str
    data: str | None = None
    bound: str = "other"
    max_steps: int = 64
    overrides: tuple = ()


# How each family runs in the benchmarks; a registered family that is not
# listed runs with the defaults, so every family has its row.
SETTINGS = {
    "mlp": {"bound": "overhead", "max_steps": 64},
    "cnn": {"bound": "overhead", "max_steps": 24},
    "lstm": {"bound": "overhead", "max_steps": 24},
    "lstm_forecaster": {"bound": "overhead", "max_steps": 24},
    "char_cnn": {"bound": "compute", "max_steps": 2},
    "vgg16_transfer": {
        "bound": "compute",
        # One 32-image batch at 224x224 takes ~10 s here; more would not fit
        # bench.all in its 10 minutes.
        "max_steps": 1,
        # No internet here for the ImageNet file; speed does not depend on
        # the weights' values.
        "overrides": (("weights", "random"),),
    },
    "joint_vae": {"max_steps": 8},
    # Batches of a few hundred milliseconds each: 16 keep bench.all within
    # its 10 minutes (64 took image_transfer alone 107 s).
    "image_transfer": {"max_steps": 16},
    "cnn_detector": {"max_steps": 16},
    "cnn_localizer": {"max_steps": 16},
    "text_generator": {"max_steps": 16},
    "bert_classifier": {"max_steps": 1},
}


def all_cases():
    """One `Case` per registered family: the registry is the case list."""
    from zoo.registry import get_family, list_families, list_models

    tiny = {}
    for name in list_models(tiny=True):
        tiny.setdefault(get_family(name).name, name)
    return [
        Case(family, family, tiny[family], **SETTINGS.get(family, {}))
        for family in list_families()
        if family in tiny
    ]


COMPUTE_BOUND = ("cnn", "char_cnn", "vgg16_transfer")


def select_cases(names=None):
    """The cases whose family is in `names` (all when None)."""
    cases = all_cases()
    if not names:
        return cases
    wanted = set(names)
    unknown = wanted - {case.family for case in cases}
    if unknown:
        raise SystemExit(
            f"Unknown benchmark family {sorted(unknown)[0]!r}; "
            f"choose from {', '.join(case.family for case in cases)}."
        )
    return [case for case in cases if case.family in wanted]


class Skip(Exception):
    """A case that cannot run here; its message says why."""


def measure_cases(names, measure):
    """`(rows, notes)` of `measure(case) -> list of rows` over the selected cases.

    A case that is skipped or fails becomes a note: one broken family must
    not sink the run.
    """
    rows, notes = [], []
    for case in select_cases(names):
        try:
            rows += measure(case)
        except Skip as reason:
            print_skip(case.family, reason)
            notes.append(f"{case.family}: skipped, {reason}.")
        except Exception as error:
            reason = f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
            print_skip(case.family, reason)
            notes.append(f"{case.family}: failed, {reason}.")
    return rows, notes


_LOADED = {}


def load_case(case, *, quick=False, seed=0):
    """`(family, config, bundle, model_name)` for a case, or raises `Skip`.

    Loaded once per process: `bench.all` shares bundles between benchmarks.
    """
    key = (case, quick, seed)
    if key not in _LOADED:
        try:
            _LOADED[key] = _load_case(case, quick=quick, seed=seed)
        except Skip as reason:
            _LOADED[key] = reason
    if isinstance(_LOADED[key], Skip):
        raise _LOADED[key]
    return _LOADED[key]


def _load_case(case, *, quick, seed):
    from zoo.errors import ZooError
    from zoo.registry import list_models

    name = case.quick_model if quick else case.model
    if name not in list_models():
        raise Skip(f"{name} is not registered (zoo/{case.family}.py not written yet)")
    from zoo.tuning.train import prepare

    try:
        prepared = prepare(name, case.data, overrides=dict(case.overrides), seed=seed)
        family, config, bundle = prepared.family, prepared.config, prepared.bundle
    except (ZooError, OSError, ValueError) as error:
        raise Skip(f"{name}: {str(error).splitlines()[0]}") from None
    try:
        build_compiled(family, config, bundle)
    except (ZooError, OSError) as error:
        raise Skip(
            f"{name} cannot be built here: {str(error).splitlines()[0]}"
        ) from None
    return family, config, bundle, name


def build_compiled(family, config, bundle, *, total_steps=1000, **changes):
    """A freshly built, compiled model with `changes` applied to its config."""
    import keras

    from zoo.config import apply_overrides
    from zoo.registry import build_from_config

    config = apply_overrides(config, changes) if changes else config
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = build_from_config(
        family, config, input_shape=bundle.input_shape, num_classes=bundle.num_classes
    )
    family.compile(
        model, config, num_classes=bundle.num_classes, total_steps=total_steps
    )
    return model, config


def steps_for(case, bundle, batch_size, *, quick=False):
    """Batches per timed epoch: the whole training split, capped by the case."""
    size = int(bundle.info.get("train_size") or 0) or batch_size * case.max_steps
    steps = max(1, size // batch_size)
    return min(steps, 2 if quick else case.max_steps)


def take_arrays(dataset, count):
    """The first `count` elements of an unbatched dataset as NumPy arrays.

    Returns a tuple `(x, y)` for supervised data or `(x,)` for unsupervised.
    """
    batch = next(iter(dataset.take(count).batch(count)))
    if isinstance(batch, tuple | list):
        return tuple(_as_array(part) for part in batch)
    return (_as_array(batch),)


def _as_array(tensor):
    """NumPy as a tutorial has it: text as Python str (Keras' `fit` refuses
    the bytes objects TensorFlow strings become: "Invalid dtype: object")."""
    array = np.asarray(tensor)
    if array.dtype == object:
        decode = np.vectorize(
            lambda v: v.decode("utf-8") if isinstance(v, bytes) else v, otypes=[object]
        )
        array = decode(array)
    return array


# Clocks -------------------------------------------------------------------------


def _callback_base():
    import keras

    return keras.callbacks.Callback


def make_epoch_clock(seconds, *, min_epochs=2, max_epochs=None):
    """A Keras callback timing `fit` epochs after the first (the warm-up one).

    The warm-up epoch holds tracing and buffers filling. Training stops once
    `min_epochs` timed epochs have run and took `seconds` in all, so one call
    adapts to tiny and big models alike. `.timed` is their seconds and
    `.epochs` their count.
    """
    base = _callback_base()

    class _EpochClock(base):
        def __init__(self):
            super().__init__()
            self.durations = []
            self._start = None

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.durations.append(time.perf_counter() - self._start)
            timed = self.durations[1:]
            if len(timed) >= min_epochs and sum(timed) >= seconds:
                self.model.stop_training = True
            if max_epochs and len(timed) >= max_epochs:
                self.model.stop_training = True

        @property
        def timed(self):
            return sum(self.durations[1:])

        @property
        def median(self):
            """Median timed epoch: robust to other processes' bursts."""
            timed = self.durations[1:]
            return float(np.median(timed)) if timed else 0.0

        @property
        def epochs(self):
            return len(self.durations) - 1

    return _EpochClock()


def time_fit(model, data, *, samples_per_epoch, seconds, fit_kwargs=None, min_epochs=3):
    """Training samples/s of `model.fit(data, ...)` after a warm-up epoch.

    `data` is either a dataset (with `steps_per_epoch` in `fit_kwargs` when
    it repeats) or a tuple of arrays passed as `fit(*arrays, ...)`. The rate
    is that of the median timed epoch, so a burst of load from other
    processes on a shared machine moves it less.
    """
    clock = make_epoch_clock(seconds, min_epochs=min_epochs)
    kwargs = dict(fit_kwargs or {})
    args = data if isinstance(data, tuple) else (data,)
    model.fit(*args, epochs=10_000, callbacks=[clock], verbose=0, **kwargs)
    if clock.epochs < 1 or clock.timed <= 0:
        raise RuntimeError("fit stopped before a timed epoch")
    return samples_per_epoch / clock.median


def time_call(fn, *, seconds, min_repeats=2, warmup=1):
    """Median seconds per call of `fn()` after `warmup` calls."""
    for _ in range(warmup):
        fn()
    durations = []
    while len(durations) < min_repeats or sum(durations) < seconds:
        start = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - start)
        if len(durations) >= 1000:
            break
    return float(np.median(durations))


# Results --------------------------------------------------------------------------


def format_value(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "-"
        magnitude = abs(value)
        if magnitude >= 100:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def format_table(columns, rows):
    """A Markdown table; `columns` is a list of `(key, header)`."""
    lines = [
        "| " + " | ".join(header for _, header in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        cells = [format_value(row.get(key)).replace("|", "/") for key, _ in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _atomic_write(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def write_results(
    name,
    *,
    title,
    columns,
    rows,
    notes=(),
    machine=None,
    command=None,
    results_dir=None,
    extra=None,
):
    """Prints and writes `bench/results/<name>.md` and `.json` atomically.

    Returns the Markdown text.
    """
    machine = machine or machine_info()
    results_dir = results_dir or RESULTS_DIR
    command = command or f"python -m bench.{name}"
    parts = [
        f"# {title}",
        "",
        f"Machine: {machine_line(machine)}.",
        f"Command: `{command}`.",
        "",
        format_table(columns, rows),
    ]
    if notes:
        parts += [""] + [f"- {note}" for note in notes]
    text = "\n".join(parts) + "\n"
    print(text, flush=True)
    _atomic_write(os.path.join(results_dir, f"{name}.md"), text)
    record = {
        "name": name,
        "title": title,
        "command": command,
        "machine": machine,
        "columns": [key for key, _ in columns],
        "rows": rows,
        "notes": list(notes),
        **(extra or {}),
    }
    _atomic_write(
        os.path.join(results_dir, f"{name}.json"),
        json.dumps(record, indent=2, default=_jsonable) + "\n",
    )
    return text


def read_results(name, results_dir=None):
    """The JSON record a benchmark wrote, or None."""
    path = os.path.join(results_dir or RESULTS_DIR, f"{name}.json")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError):
        return None


def argument_parser(description):
    """The options every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Tiny variants and short clocks: a smoke run of seconds, not a measurement.",
    )
    parser.add_argument(
        "--families",
        nargs="*",
        default=None,
        help="Only these families (default: all).",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="Seconds each measurement runs for after its warm-up.",
    )
    parser.add_argument(
        "--results-dir", default=None, help="Where tables go (bench/results)."
    )
    return parser


def seconds_for(args, full=3.0, quick=0.2):
    if args.seconds is not None:
        return args.seconds
    return quick if args.quick else full


def print_skip(name, reason):
    print(f"[bench] skip {name}: {reason}", flush=True)


AUTOTUNE_NOTE = (
    "Pipelines are drained inside TensorFlow (Dataset.reduce): one full training epoch per "
    "timing, shuffle-buffer fill included, median of repeats after a warm-up epoch. "
    "'pipeline / model' is the headroom: the target is >= 10."
)
