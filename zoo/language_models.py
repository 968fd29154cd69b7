"""What the three corpus families share: vocabulary fields, the exported
model's raw-text front, and their evaluation (perplexity or accuracy beside
n-gram baselines on the same split, the projector's files).

The corpus loader (`zoo.datasets.corpus`) splits, tokenises and windows the
text; these hooks put the same vocabulary in front of the trained network,
so `model.keras` takes raw strings, and score it against the baselines.
"""

import dataclasses

import keras
import numpy as np

from zoo.errors import ConfigError
from zoo.language import (
    ContextWindow,
    NGramBaseline,
    baseline_perplexities,
    cloze_baseline_accuracy,
    perplexity,
    projector_files,
    text_vectorizer,
    window_pairs,
)
from zoo.preprocessing import Preprocessing
from zoo.registry import Evaluation


@dataclasses.dataclass
class VocabularyFields:
    """Vocabulary options every corpus family passes to the loader.

    Attributes:
        max_tokens: Vocabulary size, padding and `[UNK]` included; None
            keeps every word of the training part seen `min_count` times.
        min_count: Least count of a kept word in the training part. 2 by
            default: words seen once become `[UNK]`, so the model learns
            how likely an unknown word is (with 1, no training target is
            `[UNK]` and every test word the training part lacks costs a
            near-zero probability).
        seed: Seed of the initializers, or None.
    """

    max_tokens: int | None = None
    min_count: int = 2
    seed: int | None = None

    def _validate_vocabulary(self):
        if self.max_tokens is not None and self.max_tokens < 3:
            raise ConfigError(
                f"max_tokens must be >= 3 (padding, [UNK], one word) or none, got "
                f"{self.max_tokens}."
            )
        if self.min_count < 1:
            raise ConfigError(f"min_count must be >= 1, got {self.min_count}.")


def vocabulary_options(config):
    """Loader options of the vocabulary fields (None ones dropped)."""
    return {"max_tokens": config.max_tokens, "min_count": config.min_count}


def units_space_to_config(values):
    """A search space's `units` is the size of the one hidden (or recurrent) layer."""
    values = dict(values)
    return {**values, "hidden_units": (values.pop("units"),)}


def check_vocabulary(input_shape, num_classes, length, family):
    """A `ConfigError` unless the data gives `length` ids and a vocabulary."""
    if num_classes is None or num_classes < 3:
        raise ConfigError(
            f"{family} predicts a token of a vocabulary; give it a corpus "
            "(a .txt file, a folder of them, or a CSV text column)."
        )
    if length is not None and tuple(input_shape) != (length,):
        raise ConfigError(
            f"{family} takes {length} token ids per example, got input_shape "
            f"{tuple(input_shape)}; train it through `zoo train`, which windows the "
            "corpus to match."
        )


def with_text_front(bundle, *, before, after=0):
    """The raw-text front of the exported model, as a `Preprocessing`.

    The front tokenises with the corpus vocabulary (`TextVectorization`,
    saved inside the model) and keeps the last `before` ids of the text
    ("text"), or, for a gap (`after` > 0), the last `before` of "before"
    and the first `after` of "after".
    """
    extras = bundle.extras
    vectorizer = text_vectorizer(
        extras["vocabulary"], level=extras["level"], standardize=extras["standardize"]
    )

    def text_input(name):
        return keras.Input(shape=(), dtype="string", name=name)

    if not after:
        raw_inputs = lambda: text_input("text")  # noqa: E731

        def front(raw):
            return ContextWindow(before, name="context")(vectorizer(raw))
    else:
        raw_inputs = lambda: {  # noqa: E731
            "before": text_input("before"),
            "after": text_input("after"),
        }

        def front(raw):
            left = ContextWindow(before, name="left_context")(vectorizer(raw["before"]))
            right = ContextWindow(after, side="first", name="right_context")(
                vectorizer(raw["after"])
            )
            return keras.layers.Concatenate(name="context")([left, right])

    # The loader tokenised the windows already (they are cut from whole token
    # streams), so the front goes in front of the saved model only.
    return Preprocessing(export_front=front, raw_inputs=raw_inputs)


def target_log_probs(model, dataset, *, batch_size=512):
    """Natural-log probability the model gives each target of `dataset`."""
    values = []
    for x, y in dataset.batch(batch_size):
        probabilities = np.asarray(model.predict_on_batch(x), "float64")
        chosen = np.take_along_axis(probabilities, np.asarray(y)[..., None], axis=-1)
        values.append(np.log(np.maximum(chosen, 1e-12)).reshape(-1))
    return np.concatenate(values) if values else np.zeros(0)


def perplexity_evaluation(model, bundle):
    """Test perplexity, the unigram's and the tuned bigram's on the same
    targets, and the ratio to the bigram (below 1: the model is better)."""
    metrics = baseline_perplexities(
        bundle.extras["documents"]["train"],
        vocabulary_size=bundle.num_classes,
        validation_pairs=window_pairs(bundle.validation),
        test_pairs=window_pairs(bundle.test),
    )
    model_perplexity = perplexity(target_log_probs(model, bundle.test))
    metrics["model_test_perplexity"] = model_perplexity
    metrics["perplexity_ratio_to_bigram"] = (
        model_perplexity / metrics["bigram_test_perplexity"]
    )
    return metrics


def cloze_evaluation(model, bundle, *, before, after):
    """Test accuracy beside the unigram's and the two-sided bigram's."""
    baseline = NGramBaseline.fit(
        bundle.extras["documents"]["train"], vocabulary_size=bundle.num_classes
    )
    # The bigram's weight is tuned on left-to-right pairs of validation.
    baseline.tune(*window_pairs(bundle.validation, after=after))
    contexts, targets = [], []
    for x, y in bundle.test.batch(4096):
        contexts.append(np.asarray(x))
        targets.append(np.asarray(y))
    contexts, targets = np.concatenate(contexts), np.concatenate(targets)
    metrics = cloze_baseline_accuracy(
        baseline, contexts[:, before - 1], contexts[:, before], targets
    )
    predicted = []
    for start in range(0, len(contexts), 1024):
        output = model.predict_on_batch(contexts[start : start + 1024])
        predicted.append(np.asarray(output).argmax(axis=-1))
    metrics["model_test_accuracy"] = float(
        np.mean(np.concatenate(predicted) == targets)
    )
    metrics["bigram_lambda"] = baseline.lam
    return metrics


def embedding_evaluation(model, bundle, metrics):
    """An `Evaluation` with `metrics` and the projector's files of the
    model's `embedding` layer."""
    matrix = model.get_layer("embedding").get_weights()[0]
    return Evaluation(
        metrics=metrics, files=projector_files(matrix, bundle.extras["vocabulary"])
    )
