"""The pipeline contract shared by every dataset, and the dataset registry.

Every loader returns a `DataBundle`: unbatched train/validation/test
`tf.data.Dataset`s of `(x, y)` with raw inputs (table rows as a dict of
columns, strings, 0-255 images, windows of a series in its units), and the
facts a builder needs. Loaders build no model layers: a family fits the
preprocessing its model carries (`zoo.preprocessing.Preprocessing`).
"""

import dataclasses
import fnmatch
import importlib
import inspect
import os
import pkgutil
from collections.abc import Callable

import tensorflow as tf

from zoo.errors import ZooError, unknown_name

AUTOTUNE = tf.data.AUTOTUNE
# Held-out fractions `(validation, test)` when the user gives none, by data
# kind: the one definition every loader of that kind uses. Images and texts
# come in thousands, tables in hundreds (a larger share held out keeps the
# test metrics stable); a series holds out its last 30% in time.
DEFAULT_SPLITS = {
    "tabular": (0.15, 0.15),
    "timeseries": (0.15, 0.15),
    "image": (0.1, 0.2),
    "text": (0.1, 0.1),
    "vae_image": (0.1, 0.1),
}


@dataclasses.dataclass
class DataBundle:
    """Train/validation/test splits and what a model needs to know of them.

    Attributes:
        train, validation, test: Unbatched datasets of `(x, y)` (or `x` alone
            for unsupervised data).
        input_shape: Shape of one `x` (a dict of columns: the column count).
        num_classes: Number of classes, or None for regression/forecasting
            and unsupervised data.
        class_names: Names of the classes in label order, or None.
        task: "binary", "multiclass", "regression", "forecast" or
            "reconstruction".
        class_weight: `{class: weight}` for imbalanced targets, or None.
        info: JSON-able facts for config.json and the report (source, sizes,
            detected columns, what was detected and how).
        extras: Data facts too large or not JSON-able for `info` (known
            factors of generated images, test dates, training rows).
        batch_map: A function `(x, y) -> (x, y)` applied to every batch, or
            None. The LSTM uses it to cut padding columns no text in the batch
            reaches.
        lengths: A function from a batch of `x` to each example's length, or
            None. When set, shuffled batches gather examples of similar length
            (`group_by_length`), so `batch_map` can cut more padding.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    input_shape: tuple
    num_classes: int | None
    class_names: list | None = None
    task: str = "multiclass"
    class_weight: dict | None = None
    info: dict = dataclasses.field(default_factory=dict)
    extras: dict = dataclasses.field(default_factory=dict)
    batch_map: Callable | None = None
    lengths: Callable | None = None

    def batches(
        self, split, batch_size, *, shuffle=None, seed=None, drop_remainder=False
    ):
        """Batched, prefetched dataset for a split; the train split shuffles."""
        return self._batched(
            split, batch_size, shuffle=shuffle, seed=seed, drop_remainder=drop_remainder
        ).prefetch(AUTOTUNE)

    def _batched(self, split, batch_size, *, shuffle, seed, drop_remainder=False):
        dataset = getattr(self, split)
        if shuffle is None:
            shuffle = split == "train"
        if shuffle:
            size = self.info.get(f"{split}_size") or 10_000
            dataset = dataset.shuffle(
                min(int(size), 50_000), seed=seed, reshuffle_each_iteration=True
            )
        if shuffle and self.lengths is not None:
            dataset = group_by_length(
                dataset,
                batch_size,
                self.lengths,
                seed=seed,
                drop_remainder=drop_remainder,
            )
        else:
            dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        if self.batch_map is not None:
            dataset = dataset.map(self.batch_map, num_parallel_calls=AUTOTUNE)
        return dataset

    def training_stream(self, batch_size, *, seed=None, steps_per_execution=1):
        """`(dataset, steps_per_epoch, steps_per_execution)` for `fit`.

        `fit` over a finite dataset without `steps_per_epoch` builds a new
        iterator at every epoch's start and another at its end (Keras 3.15);
        each build rewrites the tf.data graph, a fixed cost per epoch that on
        small tables rivals the epoch's training steps. So the train batches
        are repeated and `steps_per_epoch` is one pass: one iterator serves
        the whole run and every epoch is still exactly one reshuffled pass.
        A multi-step execution always runs its full count on a repeated
        stream, so the steps per execution become a divisor of the pass
        (`execution_steps`); when no divisor is close, the dataset stays
        finite (one iterator build per epoch). `steps_per_epoch` is None when
        the number of batches is not known.
        """
        dataset = self._batched("train", batch_size, shuffle=True, seed=seed)
        steps = int(dataset.cardinality())
        if steps < 1:
            return dataset.prefetch(AUTOTUNE), None, steps_per_execution
        per_execution = execution_steps(steps, steps_per_execution)
        if per_execution is None:
            return dataset.prefetch(AUTOTUNE), steps, steps_per_execution
        return dataset.repeat().prefetch(AUTOTUNE), steps, per_execution

    def map(self, fn, *, cache=True, batch_size=256):
        """Returns a copy whose three splits are mapped by `fn(x, y)` (or
        `fn(x)`) over batches: vectorised preprocessing (a vocabulary lookup,
        a feature encoder) runs once per batch, not per example, and the
        splits keep their known sizes.

        The mapped splits are cached in memory by default: preprocessing
        (tokenising) then runs once, not every epoch; it took the LSTM's
        input pipeline from 27x to 190x what the model consumes
        (bench/results/pipelines.md).
        """

        def apply(dataset):
            size = dataset.cardinality()
            dataset = (
                dataset.batch(batch_size)
                .map(fn, num_parallel_calls=AUTOTUNE)
                .unbatch()
                .apply(tf.data.experimental.assert_cardinality(size))
            )
            return dataset.cache() if cache else dataset

        return dataclasses.replace(
            self,
            train=apply(self.train),
            validation=apply(self.validation),
            test=apply(self.test),
        )


GROUP_BATCHES = 8


def group_by_length(dataset, batch_size, lengths, *, seed=None, drop_remainder=False):
    """Batches of similar-length examples from a shuffled `dataset`.

    Takes `GROUP_BATCHES` batches' worth of examples at a time, sorts them by
    `lengths(x)` and cuts them into batches, then shuffles the batches within
    a window of as many: every example still comes once per pass, in an order
    that changes every pass, and the number of batches is that of plain
    batching (the "sortish" sampling of fastai and Hugging Face's
    `group_by_length`).
    """
    chunk = batch_size * GROUP_BATCHES

    def sort(*batch):
        x = batch[0]
        order = tf.argsort(lengths(x), stable=True)
        gathered = tf.nest.map_structure(lambda part: tf.gather(part, order), batch)
        return gathered if len(batch) > 1 else gathered[0]

    size = int(dataset.cardinality())
    grouped = (
        dataset.batch(chunk)
        .map(sort, num_parallel_calls=AUTOTUNE)
        .unbatch()
        .batch(batch_size, drop_remainder=drop_remainder)
        .shuffle(GROUP_BATCHES, seed=seed)
    )
    if size >= 0:
        batches = size // batch_size if drop_remainder else -(-size // batch_size)
        grouped = grouped.apply(tf.data.experimental.assert_cardinality(batches))
    return grouped


def execution_steps(steps, steps_per_execution):
    """Steps per execution that tile an epoch of `steps` batches, or None.

    The largest divisor of `steps` up to `steps_per_execution`, when it is at
    least half of it (or the whole epoch fits in one execution): 13 batches
    at 32 per execution run as one execution of 13; 100 at 32 as four of 25;
    37 at 32 has no divisor close enough, so None.
    """
    wanted = max(int(steps_per_execution), 1)
    if steps <= wanted:
        return steps
    divisor = max(d for d in range(1, wanted + 1) if steps % d == 0)
    return divisor if 2 * divisor >= wanted else None


@dataclasses.dataclass(frozen=True)
class DatasetEntry:
    name: str
    kind: str
    loader: Callable
    description: str = ""


_DATASETS: dict[tuple[str, str], DatasetEntry] = {}
_FILE_LOADERS: dict[str, Callable] = {}


def register_dataset(name, *, kind, description=""):
    """Registers an embedded (or downloadable) dataset loader for a data kind.

    The loader is called as `loader(**options) -> DataBundle`.
    """

    def decorator(loader):
        key = (kind, name)
        if key in _DATASETS:
            raise ZooError(f"Dataset {name!r} of kind {kind!r} is already registered.")
        doc = (loader.__doc__ or "").strip().splitlines()
        _DATASETS[key] = DatasetEntry(
            name, kind, loader, description or (doc[0] if doc else "")
        )
        return loader

    return decorator


def register_file_loader(kind):
    """Registers `loader(path, **options) -> DataBundle` for a data kind."""

    def decorator(loader):
        if kind in _FILE_LOADERS:
            raise ZooError(f"A file loader for {kind!r} is already registered.")
        _FILE_LOADERS[kind] = loader
        return loader

    return decorator


def load_datasets():
    """Imports every dataset module so that its loaders are registered."""
    # Every module of this package registers its loaders when imported.
    for module in pkgutil.iter_modules([os.path.dirname(__file__)]):
        importlib.import_module(f"zoo.datasets.{module.name}")


def list_datasets(pattern="*", kind=None):
    """`DatasetEntry`s of registered datasets, sorted by kind and name."""
    load_datasets()
    return sorted(
        (
            e
            for e in _DATASETS.values()
            if fnmatch.fnmatch(e.name, pattern) and (kind is None or e.kind == kind)
        ),
        key=lambda e: (e.kind, e.name),
    )


def looks_like_path(source):
    source = os.fspath(source)
    return (
        os.sep in source
        or "/" in source
        or os.path.splitext(source)[1] != ""
        or os.path.exists(source)
    )


def load_data(source, *, kind, **options):
    """Loads a dataset by embedded name or file/folder path.

    Args:
        source: An embedded dataset name (`zoo datasets` lists them) or a path
            to a file or folder.
        kind: The data kind the model family consumes ("tabular", "image",
            "text", "timeseries", "vae_image").
        **options: Loader options (target, features, seed, image_size, ...);
            `None` values are dropped.

    Returns:
        A `DataBundle`.
    """
    load_datasets()
    options = {k: v for k, v in options.items() if v is not None}
    source_text = os.fspath(source)
    if (kind, source_text) in _DATASETS and not os.path.exists(source_text):
        loader = _DATASETS[(kind, source_text)].loader
        bundle = _call_loader(loader, options, source_text)
        bundle.info.setdefault("source", source_text)
        return bundle
    if looks_like_path(source_text):
        if not os.path.exists(source_text):
            raise ZooError(
                f"Data file or folder {source_text!r} does not exist. "
                "Check the path, or give an embedded dataset name (see `zoo datasets`)."
            )
        if kind not in _FILE_LOADERS:
            raise ZooError(f"Models of data kind {kind!r} cannot load files yet.")
        bundle = _call_loader(
            _FILE_LOADERS[kind], options, source_text, path=source_text
        )
        bundle.info.setdefault("source", os.path.abspath(source_text))
        return bundle
    names = [name for (k, name) in _DATASETS if k == kind]
    raise unknown_name(f"{kind} dataset", source_text, names)


def _call_loader(loader, options, source, path=None):
    params = inspect.signature(loader).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(options) - set(params))
        if unknown:
            accepted = sorted(n for n in params if n != "path")
            raise ZooError(
                f"Data option(s) {', '.join(unknown)} do not apply to {source!r}. "
                f"Options it takes: {', '.join(accepted) or 'none'}."
            )
    if path is not None:
        return loader(path, **options)
    return loader(**options)
