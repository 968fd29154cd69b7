"""Zero-shot labels: texts, inputs, and real photos (slow)."""

import importlib.util
import os

import numpy as np
import pytest

from zoo.errors import DataError, ZooError
from zoo.zeroshot import _parse_labels, _wordnet_glosses, label_text, load_image

MATPLOTLIB_SAMPLES = os.path.join(
    os.path.dirname(importlib.util.find_spec("matplotlib").origin),
    "mpl-data",
    "sample_data",
)


def _tiny_wordnet(folder):
    """Two synsets in WordNet 3.0's dictionary format."""
    (folder / "data.noun").write_text(
        "  1 This is a licence header line.\n"
        "07920052 13 n 01 espresso 0 000 | strong black coffee brewed by forcing "
        'hot water through ground beans; "an espresso, please"\n'
        "02355227 05 n 01 box 0 000 | a container with a flat base\n"
    )
    (folder / "index.noun").write_text(
        "  1 This is a licence header line.\n"
        "espresso n 1 2 @ ~ 1 0 07920052\n"
        "box n 1 1 @ 1 0 02355227\n"
    )
    return str(folder)


def test_wordnet_glosses_and_plural_labels(tmp_path):
    folder = _tiny_wordnet(tmp_path)
    by_offset, by_lemma = _wordnet_glosses(folder)
    # The example after ';' is dropped, the definition kept.
    assert by_offset["07920052"].endswith("ground beans")
    assert by_lemma["box"] == "a container with a flat base"
    assert label_text("Espresso", folder).startswith("Espresso: strong black")
    assert label_text("boxes", folder) == "boxes: a container with a flat base"
    assert label_text("sushi", folder) == "sushi"  # Not in WordNet: the name.
    assert label_text("sushi", str(tmp_path / "none")) == "sushi"


def test_labels_and_images_are_checked(tmp_path):
    assert _parse_labels(" pizza, steak ,sushi,") == ["pizza", "steak", "sushi"]
    for bad in ("pizza", "pizza,pizza", ""):
        with pytest.raises(ZooError, match="at least two different labels"):
            _parse_labels(bad)
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(DataError, match="Cannot read image .*notes.jpg"):
        load_image(str(text))
    image = load_image(os.path.join(MATPLOTLIB_SAMPLES, "grace_hopper.jpg"))
    assert image.dtype == np.uint8 and image.shape == (600, 512, 3)


@pytest.mark.slow
def test_zero_shot_puts_the_right_label_first_for_most_bundled_photos(tmp_path):
    skimage_data = pytest.importorskip("skimage.data")
    from zoo.zeroshot import ZeroShotClassifier

    photos = {
        "coffee": skimage_data.coffee(),
        "cat": skimage_data.chelsea(),
        "astronaut": skimage_data.astronaut(),
        "rocket": skimage_data.rocket(),
        "motorcycle": skimage_data.stereo_motorcycle()[0],
        "coins": np.repeat(skimage_data.coins()[..., None], 3, axis=-1),
        "uniform": load_image(os.path.join(MATPLOTLIB_SAMPLES, "grace_hopper.jpg")),
    }
    labels = list(photos)
    classifier = ZeroShotClassifier(cache_dir=str(tmp_path))
    scores = classifier.scores(list(photos.values()), labels)
    np.testing.assert_allclose(scores.sum(axis=1), 1, rtol=1e-5)
    firsts = [labels[int(row.argmax())] for row in scores]
    right = sum(first == truth for first, truth in zip(firsts, labels))
    # Measured: 6 of 7 (the astronaut looks like a football helmet to
    # ImageNet and comes out "motorcycle").
    assert right >= 5, firsts
    assert firsts[0] == "coffee" and firsts[1] == "cat"
    # The class embeddings were cached and are read back.
    assert len(os.listdir(tmp_path)) == 1
    again = ZeroShotClassifier(cache_dir=str(tmp_path))
    np.testing.assert_allclose(again.class_embeddings, classifier.class_embeddings)


def _tiny_clip_preset(folder):
    """A random CLIP (2 layers, width 8) and its preprocessor saved as a preset."""
    import keras_hub

    letters = "abcdefghijklmnopqrstuvwxyz."
    vocabulary = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for token in [*letters, *(f"{c}</w>" for c in letters)]:
        vocabulary[token] = len(vocabulary)
    vocabulary["at</w>"] = len(vocabulary)
    # keras-hub builds its merge table from a non-empty list only.
    tokenizer = keras_hub.models.CLIPTokenizer(
        vocabulary=vocabulary, merges=["a t</w>"]
    )
    converter = keras_hub.layers.CLIPImageConverter(image_size=(16, 16), scale=1 / 255)
    preprocessor = keras_hub.models.CLIPPreprocessor(
        tokenizer, converter, sequence_length=24
    )
    shape = dict(hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16)
    backbone = keras_hub.models.CLIPBackbone(
        vision_encoder=keras_hub.models.CLIPVisionEncoder(
            patch_size=8, image_shape=(16, 16, 3), **shape
        ),
        text_encoder=keras_hub.models.CLIPTextEncoder(
            vocabulary_size=len(vocabulary),
            embedding_dim=8,
            max_sequence_length=24,
            **shape,
        ),
        projection_dim=4,
    )
    backbone.save_to_preset(str(folder))
    preprocessor.save_to_preset(str(folder))
    return str(folder)


def test_zeroshot_scores_labels_with_a_local_clip_preset(tmp_path, capsys):
    from PIL import Image

    from zoo.tuning.cli.main import main

    preset = _tiny_clip_preset(tmp_path / "clip")
    paths = []
    for index, size in enumerate((20, 33)):
        path = tmp_path / f"image{index}.png"
        pixels = np.random.default_rng(index).integers(0, 255, (size, size, 3))
        Image.fromarray(pixels.astype("uint8")).save(path)
        paths.append(str(path))
    code = main(["zeroshot", *paths, "--labels", "cat,coffee,rocket", "--clip", preset])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    for line, path in zip(lines, paths):
        assert line.startswith(f"{path}: ")
        ranked = [item.split("=") for item in line.split(": ", 1)[1].split()]
        assert sorted(label for label, _ in ranked) == ["cat", "coffee", "rocket"]
        scores = [float(score) for _, score in ranked]
        assert scores == sorted(scores, reverse=True)
        assert abs(sum(scores) - 1) < 0.01


def test_zeroshot_says_in_one_line_when_the_clip_folder_is_wrong(tmp_path, capsys):
    from zoo.tuning.cli.main import main

    image = os.path.join(MATPLOTLIB_SAMPLES, "grace_hopper.jpg")
    not_clip = tmp_path / "vit"
    not_clip.mkdir()
    (not_clip / "config.json").write_text('{"class_name": "ViTBackbone"}')
    for folder, message in [
        (tmp_path / "none", "No CLIP preset folder at"),
        (not_clip, "is not a CLIP preset (its config.json names ViTBackbone)"),
        (tmp_path, "is not a CLIP preset (no readable config.json)"),
    ]:
        code = main(["zeroshot", image, "--labels", "a,b", "--clip", str(folder)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and message in err[0], err
