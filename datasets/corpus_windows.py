"""Windows over tokenised documents, built in tf.data.

Each split's documents are laid end to end in one int32 tensor; a dataset of
window positions maps to gathers from it, so the cardinality stays known
(`DataBundle.training_stream` repeats it) and no window crosses a document
boundary. Context windows (a few ids each) are cached after their first pass;
sequence windows, which overlap `length / stride` times, are gathered anew.
"""

import numpy as np
import tensorflow as tf

from zoo.datasets.base import AUTOTUNE


def context_positions(documents, *, before, after):
    """`(stream, positions)`: the documents end to end, and every target
    position with `before` tokens before it and `after` after it inside its
    own document."""
    stream = np.concatenate(documents) if documents else np.zeros(0, "int32")
    positions, start = [], 0
    for document in documents:
        positions.append(
            np.arange(start + before, start + len(document) - after, dtype="int64")
        )
        start += len(document)
    positions = np.concatenate(positions) if positions else np.zeros(0, "int64")
    return stream.astype("int32"), positions


def context_windows(documents, *, before, after=0):
    """`(context, target)` pairs: `before` ids, then `after` ids, and the id
    between them, gathered from one tensor in a tf.data map (known
    cardinality) and cached in memory after the first pass."""
    stream, positions = context_positions(documents, before=before, after=after)
    stream = tf.constant(stream)
    offsets = tf.constant(
        np.r_[np.arange(-before, 0), np.arange(1, after + 1)].astype("int64")
    )

    def gather(position):
        return tf.gather(stream, position + offsets), tf.gather(stream, position)

    dataset = tf.data.Dataset.from_tensor_slices(positions)
    # Cached after the first pass: a gather per window costs tf.data ~30 us
    # an element, which held the pipeline at 2x what a small word model
    # consumes (bench/results/pipelines.md); the pairs take (before + after
    # + 1) int32 each, a few MB for a book.
    return dataset.map(gather, num_parallel_calls=AUTOTUNE).cache(), len(positions)


def sequence_windows(documents, *, length, stride):
    """`(ids, next_ids)` pairs of `length` tokens, one every `stride` tokens."""
    stream, _ = context_positions(documents, before=0, after=0)
    starts, start = [], 0
    for document in documents:
        starts.append(
            np.arange(start, start + len(document) - length, stride, dtype="int64")
        )
        start += len(document)
    starts = np.concatenate(starts) if starts else np.zeros(0, "int64")
    stream = tf.constant(stream)
    offsets = tf.range(length, dtype=tf.int64)

    def gather(first):
        return tf.gather(stream, first + offsets), tf.gather(
            stream, first + 1 + offsets
        )

    dataset = tf.data.Dataset.from_tensor_slices(starts)
    return dataset.map(gather, num_parallel_calls=AUTOTUNE), len(starts)
