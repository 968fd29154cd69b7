"""A trained language model's run: projector files TensorBoard reads,
nearest words, generation, and the `zoo similar` / `zoo generate` verbs."""

import gzip
import pathlib

import keras
import numpy as np
import pytest

from zoo.language import nearest_words
from zoo.tuning.cli import main
from zoo.tuning.language import generate_text, load_embeddings, similar_words
from zoo.tuning.predict import load_run
from zoo.tuning.train import train

HAMLET = pathlib.Path(__file__).parents[2] / "datasets" / "data" / "hamlet.txt.gz"


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    """word_lm_tiny, one epoch on a user's .txt: Hamlet's first 600 lines."""
    folder = tmp_path_factory.mktemp("lm")
    with gzip.open(HAMLET, "rt") as handle:
        text = "".join(handle.readlines()[:600])
    corpus = folder / "act_one.txt"
    corpus.write_text(text)
    result = train(
        "word_lm_tiny",
        str(corpus),
        run_dir=folder / "run",
        epochs=1,
        batch_size=64,
        verbose=0,
    )
    return result


def _projector(logdir):
    """TensorBoard's own projector plugin over `logdir`, as a test client."""
    from tensorboard.backend.event_processing import (
        data_provider,
        plugin_event_multiplexer,
    )
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin
    from werkzeug.test import Client
    from werkzeug.wrappers import Response

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    context = base_plugin.TBContext(
        logdir=str(logdir),
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, str(logdir)),
    )
    plugin = ProjectorPlugin(context)
    apps = plugin.get_plugin_apps()
    return {route: Client(app, Response) for route, app in apps.items()}


def test_perplexity_sits_beside_the_baselines(lm_run):
    metrics = lm_run.metrics
    for name in (
        "test_perplexity",
        "unigram_test_perplexity",
        "bigram_test_perplexity",
        "perplexity_ratio_to_bigram",
    ):
        assert np.isfinite(metrics[name]) and metrics[name] > 0
    # Keras' metric and the hook's own count agree: same test targets.
    assert metrics["test_perplexity"] == pytest.approx(
        metrics["model_test_perplexity"], rel=1e-3
    )
    assert 0 < metrics["bigram_lambda"] < 1
    # The vocabulary's 30 words and the unknown token: a uniform guess.
    assert metrics["unigram_test_perplexity"] < 30


@pytest.mark.parametrize("where", ["logs", "."])
def test_tensorboard_projector_serves_the_embeddings(lm_run, where):
    run = pathlib.Path(lm_run.run_dir)
    _, exported = load_run(run)
    matrix = exported.get_layer("word_lm_mlp").get_layer("embedding").get_weights()[0]
    vocabulary = exported.get_layer("text_vectorization").get_vocabulary()
    routes = _projector(run / where)
    runs = routes["/runs"].get("/runs").get_json()
    assert "." in runs
    config = routes["/info"].get("/info?run=.").get_json()
    assert config["embeddings"][0]["tensorName"] == "word_embeddings"
    tensor = routes["/tensor"].get("/tensor?run=.&name=word_embeddings")
    assert tensor.status_code == 200
    served = np.frombuffer(tensor.data, dtype="float32").reshape(matrix.shape)
    np.testing.assert_allclose(served, matrix, rtol=1e-4, atol=1e-6)
    labels = routes["/metadata"].get("/metadata?run=.&name=word_embeddings")
    assert labels.get_data(as_text=True).splitlines() == ["<pad>", *vocabulary[1:]]


def test_similar_words_match_the_model_s_embedding(lm_run):
    matrix, vocabulary = load_embeddings(lm_run.run_dir)
    word = vocabulary[5]
    found = similar_words(lm_run.run_dir, word, k=4)
    model_matrix = lm_run.model.get_layer("word_lm_mlp").get_layer("embedding")
    expected = nearest_words(model_matrix.get_weights()[0], vocabulary, word, k=4)
    assert [w for w, _ in found] == [w for w, _ in expected]
    assert word not in [w for w, _ in found]
    cosines = [c for _, c in found]
    assert cosines == sorted(cosines, reverse=True)


def test_generate_text_continues_with_known_words(lm_run):
    generation = generate_text(lm_run.run_dir, "The King and", length=6, method="beam")
    assert generation.prompt == "the king and"
    words = generation.continuation.split()
    assert len(words) == 6 and "[UNK]" not in words
    assert generation.text == f"{generation.prompt} {generation.continuation}"
    greedy = generate_text(lm_run.run_dir, "the king and", length=6)
    assert np.isfinite(greedy.log_probability) and greedy.log_probability < 0


def test_similar_and_generate_verbs(lm_run, capsys):
    code = main(["similar", lm_run.run_dir, "the", "-k", "3"])
    out = capsys.readouterr().out
    assert code == 0 and len(out.strip().splitlines()) == 3
    code = main(["similar", lm_run.run_dir, "the", "-", "and", "+", "to", "-k", "2"])
    analogy = capsys.readouterr().out
    assert code == 0 and len(analogy.strip().splitlines()) == 2
    # Quoted as one argument, as the help writes it: the same analogy.
    code = main(["similar", lm_run.run_dir, "the - and + to", "-k", "2"])
    assert code == 0 and capsys.readouterr().out == analogy
    code = main(["similar", lm_run.run_dir, "zzyzx"])
    err = capsys.readouterr().err
    assert code == 2 and "not in the model's vocabulary" in err
    assert len(err.strip().splitlines()) == 1
    code = main(["similar", lm_run.run_dir, "king", "+", "queen"])
    assert code == 2 and "a - b + c" in capsys.readouterr().err
    code = main(
        ["generate", lm_run.run_dir, "--prompt", "the king", "--length", "4"]
        + ["--method", "topk", "--seed", "3"]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("the king ") and "log-probability" in out
    code = main(["generate", lm_run.run_dir, "--method", "sampling"])
    assert code == 2 and "Unknown decoding method" in capsys.readouterr().err


@pytest.mark.slow
def test_character_generator_trains_and_writes_samples(tmp_path):
    result = train(
        "text_generator_tiny",
        "hamlet",
        run_dir=tmp_path / "run",
        epochs=1,
        verbose=0,
    )
    samples = (tmp_path / "run" / "samples.txt").read_text()
    assert "greedy:" in samples and "beam:" in samples and "topk:" in samples
    assert result.metrics["test_perplexity"] < result.metrics["unigram_test_perplexity"]
    generation = generate_text(tmp_path / "run", "To be", length=10, method="greedy")
    assert generation.text.startswith("To be") and len(generation.continuation) == 10
    keras.backend.clear_session()
