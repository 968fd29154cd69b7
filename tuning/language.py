"""Asking a trained language model: nearest words, analogies, generation.

`similar_words` and `word_analogy` read the embeddings a `word_lm` or
`cloze` run wrote for TensorBoard's projector (`logs/embeddings.tsv`,
`logs/metadata.tsv`); `generate_text` loads a `word_lm` or
`text_generator` run's model (safe mode) and continues a prompt with
keras-hub's samplers. `zoo similar` and `zoo generate` call these.
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from zoo.decoding import detokenize, generate, sequence_log_probability
from zoo.errors import ZooError
from zoo.language import analogy, nearest_words
from zoo.tuning.predict import load_run


@dataclasses.dataclass
class Generation:
    """What `generate_text` returns.

    Attributes:
        prompt: The prompt as the model read it (its vocabulary's tokens).
        continuation: The generated text.
        text: Both, joined as the level joins tokens.
        ids: The generated token ids.
        log_probability: The continuation's log-probability under the model.
    """

    prompt: str
    continuation: str
    text: str
    ids: list
    log_probability: float


def _run_folder(run_dir):
    run_dir = os.fspath(run_dir)
    # A search keeps its best model in best/ (its own logs/ holds trials').
    best = os.path.join(run_dir, "best")
    if os.path.isdir(best) and not os.path.exists(os.path.join(run_dir, "model.keras")):
        return best
    return run_dir


def load_embeddings(run_dir):
    """`(matrix, vocabulary)` from a run's projector files."""
    folder = os.path.join(_run_folder(run_dir), "logs")
    vectors = os.path.join(folder, "embeddings.tsv")
    labels = os.path.join(folder, "metadata.tsv")
    if not (os.path.exists(vectors) and os.path.exists(labels)):
        raise ZooError(
            f"{run_dir} holds no word embeddings (logs/embeddings.tsv); train a "
            "word_lm or cloze model with `zoo train` first."
        )
    matrix = np.loadtxt(vectors, delimiter="\t", dtype="float32", ndmin=2)
    with open(labels, encoding="utf-8") as handle:
        vocabulary = [line.rstrip("\n") for line in handle]
    vocabulary[0] = ""  # written as <pad>
    return matrix, vocabulary


def similar_words(run_dir, word, *, k=10):
    """The `k` words nearest to `word` by cosine in a run's embeddings.

    Example:
    >>> similar_words("runs/hamlet_lm", "king", k=3)  # doctest: +SKIP
    [('queen', 0.61), ...]
    """
    matrix, vocabulary = load_embeddings(run_dir)
    return nearest_words(matrix, vocabulary, word, k=k)


def word_analogy(run_dir, a, b, c, *, k=10):
    """Words nearest to `a - b + c` in a run's embeddings."""
    matrix, vocabulary = load_embeddings(run_dir)
    return analogy(matrix, vocabulary, a, b, c, k=k)


def _network(exported):
    """The trained network inside an export (raw text front -> network)."""
    nested = [layer for layer in exported.layers if isinstance(layer, keras.Model)]
    return nested[-1] if nested else exported


def generate_text(
    run_dir,
    prompt,
    *,
    length=50,
    method="greedy",
    beam_width=5,
    top_k=None,
    temperature=1.0,
    seed=None,
):
    """Continues `prompt` with a `word_lm` or `text_generator` run's model.

    Args:
        run_dir: A finished run (or a search's `best/`).
        prompt: Text to continue; tokenised with the model's own vocabulary.
        length: Tokens (words or characters) to add.
        method: "greedy", "beam" or "topk".
        beam_width, top_k, temperature, seed: As for `zoo.decoding.generate`.

    Returns:
        A `Generation`.
    """
    record, exported = load_run(run_dir)
    if record.get("family") not in ("word_lm", "text_generator"):
        raise ZooError(
            f"{run_dir} holds a {record.get('family')} model; `zoo generate` needs a "
            "word_lm or text_generator run."
        )
    try:
        vectorizer = exported.get_layer("text_vectorization")
    except ValueError:
        raise ZooError(f"{run_dir}'s model has no text_vectorization layer.") from None
    vocabulary = vectorizer.get_vocabulary()
    ids = np.asarray(vectorizer(tf.constant([str(prompt)])))[0]
    ids = ids[ids != 0]
    level = record.get("data_info", {}).get("level", "word")
    network = _network(exported)
    window = int(record["input_shape"][0])
    continuation = generate(
        network,
        ids,
        length=length,
        window=window,
        method=method,
        beam_width=beam_width,
        top_k=top_k,
        temperature=temperature,
        seed=seed,
    )
    return Generation(
        prompt=detokenize(ids, vocabulary, level),
        continuation=detokenize(continuation, vocabulary, level),
        text=detokenize(np.r_[ids, continuation], vocabulary, level),
        ids=[int(i) for i in continuation],
        log_probability=sequence_log_probability(
            network, ids, continuation, window=window
        ),
    )
