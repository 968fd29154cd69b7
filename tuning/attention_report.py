"""Writes MiniLM's attention pictures and word-similarity figures for two sentences.

Example:
>>> write_attention_report(  # doctest: +SKIP
...     "I sat on the bank of the river", "I deposited cash at the bank", "bank", "out"
... )
"""

from __future__ import annotations

import os

from zoo.attention import (
    attention_figure,
    attention_maps,
    average_attention_figure,
    top_attended,
    word_positions,
    word_similarity,
)
from zoo.minilm import SentenceEncoder
from zoo.tuning.io import write_json


def write_attention_report(
    first: str, second: str, word: str, out_dir: str, *, encoder="minilm"
) -> dict:
    """Heatmaps per layer and head and averaged, for each sentence, and the
    cosine of the word's contextual vectors next to its static one.

    Returns:
        The figures written to `similarity.json`, plus `files` (paths).
    """
    if isinstance(encoder, str):
        encoder = SentenceEncoder(encoder)
    similarity = word_similarity(encoder, first, second, word)
    os.makedirs(out_dir, exist_ok=True)
    files, attends = [], {}
    for number, sentence in enumerate((first, second), start=1):
        tokens, maps = attention_maps(encoder, sentence)
        packed = encoder.tokenize([sentence])
        position = word_positions(encoder, packed["token_ids"][0], word)[0]
        attends[f"sentence_{number}"] = top_attended(tokens, maps, position)
        for name, figure in (
            (
                f"sentence_{number}_heads.png",
                attention_figure(tokens, maps, f"{sentence!r}: layers x heads"),
            ),
            (
                f"sentence_{number}_average.png",
                average_attention_figure(tokens, maps, f"{sentence!r}: average"),
            ),
        ):
            path = os.path.join(out_dir, name)
            figure.savefig(path)
            files.append(path)
    result = {
        "sentences": [first, second],
        "word": word,
        "encoder": encoder.identity["name"],
        "cosine": similarity,
        "word_attends_to": attends,
    }
    path = os.path.join(out_dir, "similarity.json")
    write_json(path, result)
    return {**result, "files": [*files, path]}
