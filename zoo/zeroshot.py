"""Zero-shot image labels offline: ImageNet probabilities meet text embeddings.

No image-text model (CLIP) ships offline, but two pretrained parts do: the
EfficientNet-Lite ImageNet classifier (`zoo.efficientnet_lite`) and the
all-MiniLM-L6-v2 sentence encoder (`zoo.bert_encoders`). ConSE (Norouzi et
al., "Zero-Shot Learning by Convex Combination of Semantic Embeddings", ICLR
2014) joins them: an image's embedding is the average of its top ImageNet
classes' text embeddings weighted by their probabilities, and each candidate
label is scored by its cosine similarity to that embedding.

ImageNet's class names ship in keras-hub; each class's text is its name and,
when WordNet 3.0 is installed (Debian `wordnet-base`, whose noun offsets are
ImageNet's synset ids), its WordNet gloss ("espresso: strong black coffee
brewed by forcing hot water under pressure ..."). A label found in WordNet is
embedded with its first gloss too, so both sides read alike.

When a keras-hub CLIP preset folder is at hand (`save_to_preset` of a
`CLIPBackbone` and its `CLIPPreprocessor`), `CLIPZeroShot` scores labels with
it directly instead: "a photo of a {label}." against each image.
"""

import functools
import hashlib
import json
import os

import keras
import numpy as np

from zoo import bert_encoders
from zoo.efficientnet_lite import efficientnet_lite_classifier
from zoo.errors import DataError, ZooError

WORDNET_DIR = "/usr/share/wordnet"
# Tokens per text: 99% of the class texts ("name: gloss") take <= 31.
TEXT_LENGTH = 40


def default_cache_dir() -> str:
    """Where the ImageNet class embeddings are kept ($KERAS_ZOO_CACHE or
    ~/.cache/keras-zoo): embedding 1000 texts takes half a minute on a CPU."""
    return os.environ.get("KERAS_ZOO_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "keras-zoo"
    )


# === Texts ===


def imagenet_synsets() -> list[tuple[str, str]]:
    """`(wordnet_id, class_name)` of the 1000 ImageNet classes, in index order."""
    from keras_hub.utils import decode_imagenet_predictions

    # keras-hub exposes its synset table only through the decoder: decoding
    # the identity matrix reads it back in index order.
    rows = decode_imagenet_predictions(
        np.eye(1000, dtype="float32"), top=1, include_synset_ids=True
    )
    return [(row[0][0], row[0][1]) for row in rows]


@functools.lru_cache(maxsize=2)
def _wordnet_glosses(folder):
    """`{offset: gloss}` and `{lemma: gloss of its first sense}` of WordNet nouns."""
    data = os.path.join(folder, "data.noun")
    index = os.path.join(folder, "index.noun")
    if not (os.path.isfile(data) and os.path.isfile(index)):
        return {}, {}
    by_offset = {}
    with open(data, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith(" ") or "|" not in line:
                continue  # The licence header.
            head, gloss = line.split("|", 1)
            # Glosses add examples after ';'; the definition is enough.
            by_offset[head.split(" ", 1)[0]] = gloss.split(";")[0].strip()
    by_lemma = {}
    with open(index, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith(" "):
                continue
            fields = line.split()
            count = int(fields[3])  # Pointer symbols, then sense counts.
            first_sense = fields[4 + count + 2]
            by_lemma[fields[0]] = by_offset.get(first_sense, "")
    return by_offset, by_lemma


def class_texts(wordnet_dir: str = WORDNET_DIR) -> list[str]:
    """One text per ImageNet class: "name: WordNet gloss", or the name alone."""
    by_offset, _ = _wordnet_glosses(wordnet_dir)
    texts = []
    for synset, name in imagenet_synsets():
        name = name.replace("_", " ")
        gloss = by_offset.get(synset[1:])
        texts.append(f"{name}: {gloss}" if gloss else name)
    return texts


# WordNet's detachment rules for plural nouns (its `morphy`), longest first.
_PLURALS = (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("ses", "s"))
_PLURALS += (("zes", "z"), ("men", "man"), ("s", ""))


def label_text(label: str, wordnet_dir: str = WORDNET_DIR) -> str:
    """A label as embedded: with its first WordNet gloss when it has one."""
    _, by_lemma = _wordnet_glosses(wordnet_dir)
    lemma = label.strip().lower().replace(" ", "_")
    candidates = [lemma] + [
        lemma[: -len(suffix)] + base
        for suffix, base in _PLURALS
        if lemma.endswith(suffix)
    ]
    gloss = next((by_lemma[c] for c in candidates if by_lemma.get(c)), None)
    return f"{label}: {gloss}" if gloss else label


# === Text embeddings ===


class TextEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (mean pooled, unit length)."""

    def __init__(self, sequence_length: int = TEXT_LENGTH):
        import keras_hub

        backbone, tokenizer = bert_encoders.load_hf_bert(
            bert_encoders.minilm_path(),
            max_sequence_length=sequence_length,
            dropout=0.0,
            sha256=bert_encoders.MINILM_SHA256,
        )
        self.backbone = backbone
        self.preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
            tokenizer, sequence_length=sequence_length
        )

    def __call__(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        """Embeds `texts` into a `(len(texts), 384)` array of unit vectors."""
        parts = []
        for start in range(0, len(texts), batch_size):
            features = self.preprocessor(list(texts[start : start + batch_size]))
            sequence = self.backbone(features)["sequence_output"]
            mask = keras.ops.cast(features["padding_mask"], "float32")[..., None]
            pooled = keras.ops.sum(sequence * mask, 1) / keras.ops.sum(mask, 1)
            parts.append(keras.ops.convert_to_numpy(pooled))
        vectors = np.concatenate(parts)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _class_embeddings(embed, texts, cache_dir):
    if not cache_dir:
        return embed(texts)
    # The key covers the encoder's weights and every text, so a changed gloss
    # or encoder never reads stale vectors.
    key = hashlib.sha256(
        (bert_encoders.MINILM_SHA256 + "\n" + "\n".join(texts)).encode()
    ).hexdigest()[:16]
    path = os.path.join(cache_dir, f"imagenet_minilm_{key}.npy")
    if os.path.isfile(path):
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape[0] == len(texts):
            return vectors
    vectors = embed(texts)
    os.makedirs(cache_dir, exist_ok=True)
    partial = f"{path}.{os.getpid()}.npy"
    np.save(partial, vectors)
    os.replace(partial, path)  # Atomic: readers never see half a file.
    return vectors


# === Images ===


def load_image(path: str) -> np.ndarray:
    """An image file as a `(height, width, 3)` uint8 RGB array."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as error:
        raise DataError(
            f"Cannot read image {path} ({type(error).__name__}); give a JPEG, PNG, "
            "BMP or GIF file."
        ) from None


def _parse_labels(labels):
    if isinstance(labels, str):
        labels = labels.split(",")
    labels = [label.strip() for label in labels if label.strip()]
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ZooError(
            f"Zero-shot needs at least two different labels, got {labels!r}; "
            'give them as --labels "pizza,steak,sushi".'
        )
    return labels


# === Zero-shot classifier ===


class ZeroShotClassifier:
    """Scores free-text labels for images with ConSE over EfficientNet-Lite.

    Args:
        variant: The ImageNet classifier ("lite0" or "lite2").
        top_k: How many of the image's top ImageNet classes are averaged.
        temperature: Softmax temperature turning the cosines into scores.
        wordnet_dir: WordNet 3.0's dictionary folder (glosses when present).
        cache_dir: Keep the class embeddings here (None: compute each time).

    Example:
        >>> zero_shot = ZeroShotClassifier()  # doctest: +SKIP
        >>> zero_shot.scores([image], ["cat", "coffee"])  # doctest: +SKIP
        array([[0.02, 0.98]], dtype=float32)
    """

    def __init__(
        self,
        variant: str = "lite0",
        *,
        top_k: int = 10,
        temperature: float = 0.05,
        wordnet_dir: str = WORDNET_DIR,
        cache_dir: str | None = "default",
    ):
        self.classifier = efficientnet_lite_classifier(variant)
        self.embed = TextEmbedder()
        self.top_k, self.temperature = int(top_k), float(temperature)
        self.wordnet_dir = wordnet_dir
        if cache_dir == "default":
            cache_dir = default_cache_dir()
        self.class_embeddings = _class_embeddings(
            self.embed, class_texts(wordnet_dir), cache_dir
        )

    def image_probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        """The ImageNet softmax of each image (of any size), `(n, 1000)`."""
        rows = [
            self.classifier(np.asarray(image, "float32")[None], training=False)
            for image in images
        ]
        return keras.ops.convert_to_numpy(keras.ops.concatenate(rows))

    def image_embeddings(self, probabilities: np.ndarray) -> np.ndarray:
        """ConSE: the probability-weighted mean of the top classes' embeddings."""
        top = np.argsort(-probabilities, axis=1)[:, : self.top_k]
        weights = np.take_along_axis(probabilities, top, axis=1)
        vectors = np.einsum("nk,nkd->nd", weights, self.class_embeddings[top])
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def scores(self, images: list[np.ndarray], labels) -> np.ndarray:
        """`(len(images), len(labels))` scores that sum to one per image."""
        labels = _parse_labels(labels)
        texts = [label_text(label, self.wordnet_dir) for label in labels]
        label_vectors = self.embed(texts)
        cosines = self.image_embeddings(self.image_probabilities(images)) @ (
            label_vectors.T
        )
        logits = cosines / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        scores = np.exp(logits)
        return (scores / scores.sum(axis=1, keepdims=True)).astype("float32")


# === CLIP from a local preset ===

CLIP_PROMPT = "a photo of a {}."


def check_clip_preset(preset_dir: str) -> str:
    """`preset_dir` if it holds a keras-hub CLIP preset, else a `ZooError`."""
    fix = (
        "give a folder where a keras_hub.models.CLIPBackbone and its "
        "CLIPPreprocessor were saved with save_to_preset"
    )
    if not os.path.isdir(preset_dir):
        raise ZooError(f"No CLIP preset folder at {preset_dir}; {fix}.")
    try:
        with open(os.path.join(preset_dir, "config.json"), encoding="utf-8") as handle:
            found = json.load(handle).get("class_name")
    except (OSError, ValueError, AttributeError):
        found = None
    if found != "CLIPBackbone":
        what = f"its config.json names {found}" if found else "no readable config.json"
        raise ZooError(f"{preset_dir} is not a CLIP preset ({what}); {fix}.")
    return preset_dir


class CLIPZeroShot:
    """Scores free-text labels for images with a keras-hub CLIP preset folder.

    Args:
        preset_dir: A folder holding a `CLIPBackbone` and its
            `CLIPPreprocessor` (`save_to_preset`); read offline.
        prompt: How a label is put into words before it is embedded.

    Example:
        >>> clip = CLIPZeroShot("presets/clip_vit_base_patch16")  # doctest: +SKIP
        >>> clip.scores([image], ["cat", "coffee"])  # doctest: +SKIP
        array([[0.01, 0.99]], dtype=float32)
    """

    def __init__(self, preset_dir: str, *, prompt: str = CLIP_PROMPT):
        import keras_hub

        check_clip_preset(preset_dir)
        try:
            self.backbone = keras_hub.models.CLIPBackbone.from_preset(preset_dir)
            self.preprocessor = keras_hub.models.CLIPPreprocessor.from_preset(
                preset_dir
            )
        except (OSError, ValueError, KeyError) as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ZooError(
                f"Cannot load the CLIP preset in {preset_dir} ({first[:120]}); save "
                "its CLIPBackbone and CLIPPreprocessor there with save_to_preset."
            ) from None
        self.prompt = prompt

    def scores(self, images: list[np.ndarray], labels) -> np.ndarray:
        """`(len(images), len(labels))` scores that sum to one per image."""
        labels = _parse_labels(labels)
        prompts = [self.prompt.format(label) for label in labels]
        tokens = self.preprocessor({"prompts": prompts, "images": None})["token_ids"]
        converter = self.preprocessor.image_converter
        pixels = keras.ops.concatenate(
            [converter(np.asarray(image, "float32")[None]) for image in images]
        )
        vision_logits, _ = self.backbone.clip_head(
            self.backbone.get_vision_embeddings(pixels),
            self.backbone.get_text_embeddings(tokens),
        )
        probabilities = keras.ops.softmax(vision_logits, axis=-1)
        return keras.ops.convert_to_numpy(probabilities).astype("float32")


def zero_shot(
    paths: list[str], labels, *, variant: str = "lite0", clip: str | None = None
) -> list[dict]:
    """Scores `labels` for each image file; one `{label: score}` dict per file,
    best first. `clip`: a CLIP preset folder to score with instead of ConSE."""
    labels = _parse_labels(labels)
    scorer = CLIPZeroShot(clip) if clip else None
    images = [load_image(path) for path in paths]
    scorer = scorer or ZeroShotClassifier(variant)
    scores = scorer.scores(images, labels)
    return [
        dict(sorted(zip(labels, map(float, row)), key=lambda item: -item[1]))
        for row in scores
    ]
