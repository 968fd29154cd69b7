"""Decoding a next-token model: greedy, beam and top-k/temperature.

keras-hub's samplers (`GreedySampler`, `BeamSampler`, `TopKSampler`) do the
search; this module gives them a `next` function over a zoo model (the last
`window` tokens in, next-token probabilities out) and scores a finished
continuation under the same distribution (`sequence_log_probability`),
which the samplers do not return.
"""

import keras
import keras_hub
import numpy as np
from keras import ops

from zoo.errors import ConfigError, close_matches

PADDING, UNKNOWN = 0, 1
METHODS = ("greedy", "beam", "topk")
# Added to the logits of tokens a decoder may not emit (padding, [UNK]).
BANNED_LOGIT = -1e9
DEFAULT_TOP_K = 10


def _check_decoding(method, length, beam_width, top_k, temperature, vocabulary_size):
    if method not in METHODS:
        raise ConfigError(
            f"Unknown decoding method {method!r}.{close_matches(method, METHODS)} "
            f"Choose one of {', '.join(METHODS)}."
        )
    if int(length) < 1:
        raise ConfigError(f"length must be >= 1 token, got {length}.")
    if int(beam_width) < 1:
        raise ConfigError(f"beam width must be >= 1, got {beam_width}.")
    if method == "topk" and not 1 <= int(top_k) <= vocabulary_size:
        raise ConfigError(
            f"top_k must be between 1 and the vocabulary size {vocabulary_size}, "
            f"got {top_k}."
        )
    if not float(temperature) > 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}.")


def next_logits(model, *, window, banned=(PADDING, UNKNOWN)):
    """The `next(prompt, cache, index)` function keras-hub's samplers call.

    The model sees the `window` tokens before `index` (the prompt is
    left-padded with that many padding ids) and answers next-token
    probabilities: `(batch, vocabulary)`, or `(batch, steps, vocabulary)`
    of which the last step counts (a recurrent generator). The log of them
    are the logits; `banned` tokens get `BANNED_LOGIT`, so no decoder emits
    padding or `[UNK]`, and `sequence_log_probability` scores the same
    distribution.
    """
    size = int(model.output_shape[-1])
    penalty = np.zeros(size, "float32")
    penalty[list(banned)] = BANNED_LOGIT
    penalty = ops.convert_to_tensor(penalty)

    def next_fn(prompt, cache, index):
        batch = ops.shape(prompt)[0]
        context = ops.slice(prompt, [0, index - window], [batch, window])
        probabilities = ops.cast(model(context, training=False), "float32")
        if len(probabilities.shape) == 3:
            probabilities = probabilities[:, -1, :]
        logits = ops.log(ops.maximum(probabilities, 1e-12)) + penalty
        return logits, None, cache

    return next_fn


def _sampler(method, *, beam_width, top_k, temperature, seed):
    if method == "greedy":
        return keras_hub.samplers.GreedySampler()
    if method == "beam":
        return keras_hub.samplers.BeamSampler(num_beams=int(beam_width))
    return keras_hub.samplers.TopKSampler(
        k=int(top_k), seed=seed, temperature=float(temperature)
    )


def generate(
    model,
    prompt_ids,
    *,
    length,
    window,
    method="greedy",
    beam_width=5,
    top_k=None,
    temperature=1.0,
    seed=None,
    banned=(PADDING, UNKNOWN),
):
    """Continues a prompt with keras-hub's greedy, beam or top-k sampler.

    Args:
        model: A next-token model: `(batch, window)` ids to probabilities.
        prompt_ids: The prompt's token ids (may be empty).
        length: Tokens to generate.
        window: Context tokens the model takes.
        method: "greedy", "beam" (`beam_width` beams) or "topk" (sample
            among the `top_k` likeliest (default 10), probabilities sharpened or
            flattened by `temperature`).
        seed: Seed of top-k sampling.
        banned: Token ids never generated.

    Returns:
        The generated ids, an int array of `length`.

    Example:
    >>> ids = generate(model, [5, 9], length=20, window=3, method="beam")  # doctest: +SKIP
    """
    size = int(model.output_shape[-1])
    top_k = min(DEFAULT_TOP_K, size) if top_k is None else top_k
    _check_decoding(method, length, beam_width, top_k, temperature, size)
    prompt_ids = [int(token) for token in prompt_ids]
    start = window + len(prompt_ids)
    tokens = np.zeros((1, start + int(length)), "int32")
    tokens[0, window:start] = prompt_ids
    mask = np.zeros(tokens.shape, bool)
    mask[:, :start] = True
    sampler = _sampler(
        method, beam_width=beam_width, top_k=top_k, temperature=temperature, seed=seed
    )
    output = sampler(
        next_logits(model, window=window, banned=banned),
        ops.convert_to_tensor(tokens),
        index=start,
        mask=ops.convert_to_tensor(mask),
    )
    return np.asarray(keras.ops.convert_to_numpy(output))[0, start:]


def sequence_log_probability(
    model, prompt_ids, continuation, *, window, banned=(PADDING, UNKNOWN)
):
    """Natural-log probability of `continuation` after `prompt_ids`.

    Scores every step of the continuation in one batch, under the
    distribution the decoders draw from (`next_logits`). keras-hub's
    samplers return tokens only (the beam sampler its beams' scores, the
    others nothing), so decoders are compared with this.
    """
    tokens = np.r_[
        np.zeros(window, "int32"), np.asarray(prompt_ids, "int32"), continuation
    ].astype("int32")
    start = window + len(prompt_ids)
    steps = np.arange(start, len(tokens))
    batch = np.stack([tokens[step - window : step] for step in steps])
    next_fn = next_logits(model, window=window, banned=banned)
    logits = next_fn(
        ops.convert_to_tensor(np.c_[batch, np.zeros((len(batch), 1), "int32")]),
        (),
        window,
    )[0]
    log_probs = keras.ops.convert_to_numpy(ops.log_softmax(logits, axis=-1))
    return float(np.sum(log_probs[np.arange(len(steps)), tokens[steps]]))


def detokenize(ids, vocabulary, level):
    """Text from token ids: words joined by spaces, characters by nothing."""
    tokens = [str(vocabulary[int(i)]) for i in ids]
    return ("" if level == "character" else " ").join(tokens)
