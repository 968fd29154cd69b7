import dataclasses
import math
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_model_test
from zoo.errors import ConfigError, DataError
from zoo.joint_vae_analysis import (
    cluster_purity,
    decode,
    encode,
    evaluate_joint_vae,
    make_latent,
    mutual_information_gap,
    traverse,
    unsupervised_accuracy,
)
from zoo.joint_vae_layers import GumbelSoftmax
from zoo.joint_vae_model import METRIC_NAMES, JointVAE, linear_capacity
from zoo.models.joint_vae import JointVAEConfig, build_joint_vae
from zoo.registry import create_model, list_models, resolve_config


def _images(count=8, size=16, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((count, size, size, channels)) > 0.7).astype("float32")


def _tiny(**overrides):
    family, config = resolve_config("joint_vae_tiny", **overrides)
    model = build_joint_vae(config, input_shape=(16, 16, 1))
    # Eager: the same train_step without minutes of tracing on a busy CPU;
    # the shared model test and the trace test run it compiled.
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate), run_eagerly=True
    )
    return model, config


def _streams(images):
    """A repeated training stream of `images` in pairs, and one validation batch."""
    labels = np.zeros(len(images), "int32")
    pairs = tf.data.Dataset.from_tensor_slices((images, labels))
    return pairs.repeat().batch(2), pairs.batch(len(images))


def _fit_steps(model, images, steps, batch_size=2):
    dataset = tf.data.Dataset.from_tensor_slices(
        (images, np.zeros(len(images), "int32"))
    )
    dataset = dataset.repeat().batch(batch_size)
    return model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0).history


def test_shared_model_test(tmp_path):
    # Builds, fits one compiled step with the family's compile recipe, saves, loads.
    model = run_model_test(
        "joint_vae_tiny",
        input_shape=(16, 16, 1),
        num_classes=None,
        x=_images(4),
        tmp_path=tmp_path,
    )
    assert isinstance(model, JointVAE)
    assert int(model.step_counter.numpy()) == 1
    assert set(model.history.history) == set(METRIC_NAMES)


def test_variants_are_registered_with_paper_settings():
    assert set(list_models("joint_vae*")) >= {
        "joint_vae",
        "joint_vae_mnist",
        "joint_vae_mnist_paper",
        "joint_vae_dsprites",
        "joint_vae_celeba",
        "joint_vae_tiny",
    }
    _, mnist = resolve_config("joint_vae_mnist_paper")
    assert mnist.marginal_entropy_weight == 0.0 and mnist.alpha_init_scale is None
    assert (mnist.capacity_z_start, mnist.capacity_c_start) == (0, 0)
    assert (
        mnist.continuous_dim,
        mnist.discrete_dims,
        mnist.gamma_z,
        mnist.capacity_z_steps,
    ) == (10, (10,), 30.0, 25000)
    assert mnist.learning_rate == 5e-4 and mnist.temperature == 0.67
    _, sprites = resolve_config("joint_vae_dsprites")
    assert (sprites.continuous_dim, sprites.discrete_dims, sprites.capacity_c_max) == (
        6,
        (3,),
        1.1,
    )
    _, celeba = resolve_config("joint_vae_celeba")
    assert (celeba.image_size, celeba.channels, celeba.continuous_dim) == (64, 3, 32)


def test_paper_architectures_build():
    model = create_model("joint_vae_mnist", input_shape=(32, 32, 1), num_classes=None)
    assert model.latent_size == 20
    # 32x32: three stride-2 blocks (32-64-64) down to 4x4.
    convs = [
        layer
        for layer in model.encoder.layers
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert [layer.filters for layer in convs] == [32, 64, 64]
    assert model(np.zeros((1, 32, 32, 1), "float32")).shape == (1, 32, 32, 1)
    celeba = create_model("joint_vae_celeba", input_shape=(64, 64, 3), num_classes=None)
    convs = [
        layer
        for layer in celeba.encoder.layers
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert [layer.filters for layer in convs] == [32, 32, 64, 64]
    assert celeba.decoder.output_shape == (None, 64, 64, 3)


def test_tiny_trains_a_few_steps_with_finite_losses():
    model, _ = _tiny()
    history = _fit_steps(model, _images(8), steps=4)
    assert set(history) == set(METRIC_NAMES)
    for values in history.values():
        assert np.all(np.isfinite(values))
    assert int(model.step_counter.numpy()) == 4
    results = model.evaluate(_images(4), verbose=0, return_dict=True)
    assert set(results) == set(METRIC_NAMES)
    assert all(np.isfinite(value) for value in results.values())


def test_training_lowers_reconstruction_loss():
    model, _ = _tiny(capacity_z_steps=0, capacity_c_steps=0, learning_rate=1e-2)
    images = _images(8)
    before = model.evaluate(images, verbose=0, return_dict=True)["reconstruction_loss"]
    _fit_steps(model, images, steps=20, batch_size=8)
    after = model.evaluate(images, verbose=0, return_dict=True)["reconstruction_loss"]
    assert after < 0.9 * before


def test_capacity_schedule_values_are_exact():
    assert linear_capacity(0, 0.0, 5.0, 25000) == 0.0
    assert linear_capacity(2500, 0.0, 5.0, 25000) == pytest.approx(0.5)
    assert linear_capacity(25000, 0.0, 5.0, 25000) == pytest.approx(5.0)
    assert linear_capacity(90000, 0.0, 5.0, 25000) == pytest.approx(5.0)
    assert linear_capacity(150, 1.0, 2.0, 300) == pytest.approx(1.5)
    assert linear_capacity(7, 0.0, 3.0, 0) == 3.0
    # Tiny: C_z 0 -> 2 over 10 steps, C_c 0 -> 1 over 10 steps.
    model, _ = _tiny()
    for step, (capacity_z, capacity_c) in {
        0: (0.0, 0.0),
        4: (0.8, 0.4),
        10: (2.0, 1.0),
        25: (2.0, 1.0),
    }.items():
        model.step_counter.assign(step)
        values = [float(v) for v in model.capacities()]
        np.testing.assert_allclose(
            values, [capacity_z, capacity_c], rtol=1e-6, atol=1e-7
        )
        assert model.capacities(step) == pytest.approx((capacity_z, capacity_c))


def test_capacity_follows_the_step_counter_during_training():
    model, _ = _tiny()
    history = _fit_steps(model, _images(8), steps=4)
    # Steps 1..4 train at C_z = 0.2 * step and C_c = 0.1 * step; Keras logs the mean.
    assert history["capacity_z"][0] == pytest.approx(0.5, rel=1e-6)
    assert history["capacity_c"][0] == pytest.approx(0.25, rel=1e-6)
    assert float(model.capacities()[0]) == pytest.approx(0.8, rel=1e-6)


def test_discrete_capacity_is_capped_at_sum_log_categories():
    model, _ = _tiny(discrete_dims=(3, 2), capacity_c_max=50.0, capacity_c_steps=100)
    limit = math.log(3) + math.log(2)
    model.step_counter.assign(100)
    assert float(model.capacities()[1]) == pytest.approx(limit, rel=1e-6)
    assert model.capacities(2)[1] == pytest.approx(1.0)  # below the cap: unchanged
    assert model.capacities(1000)[1] == pytest.approx(limit)


def test_gumbel_softmax_samples_are_distributions():
    alpha = np.tile(np.array([[0.7, 0.2, 0.1]], "float32"), (20000, 1))
    layer = GumbelSoftmax(temperature=0.67, seed=3)
    samples = keras.ops.convert_to_numpy(layer(alpha, training=True))
    assert samples.shape == alpha.shape
    assert np.all(samples >= 0) and np.all(np.isfinite(samples))
    np.testing.assert_allclose(samples.sum(axis=-1), 1.0, rtol=1e-5)
    assert len(np.unique(samples[:, 0])) > 1000  # relaxed, not one-hot
    # The arg-max of a Gumbel-softmax sample follows the categorical distribution.
    frequencies = np.bincount(samples.argmax(-1), minlength=3) / len(samples)
    np.testing.assert_allclose(frequencies, [0.7, 0.2, 0.1], atol=0.02)
    # Low temperature: nearly one-hot.
    cold = keras.ops.convert_to_numpy(
        GumbelSoftmax(temperature=0.01, seed=3)(alpha[:500], training=True)
    )
    assert np.mean(cold.max(-1) > 0.99) > 0.95
    # Inference: the one-hot vector of the most probable category.
    inference = keras.ops.convert_to_numpy(
        layer(np.array([[0.1, 0.6, 0.3]], "float32"))
    )
    np.testing.assert_array_equal(inference, [[0.0, 1.0, 0.0]])


def test_inference_is_deterministic():
    model, _ = _tiny()
    images = _images(4)
    first = keras.ops.convert_to_numpy(model(images))
    np.testing.assert_array_equal(first, keras.ops.convert_to_numpy(model(images)))
    sampled = keras.ops.convert_to_numpy(model(images, training=True))
    assert not np.allclose(first, sampled)


def test_save_load_keeps_capacity_state_and_resumes(tmp_path):
    model, _ = _tiny()
    images = _images(8)
    _fit_steps(model, images, steps=5)
    path = os.path.join(tmp_path, "vae.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, JointVAE)
    assert int(loaded.step_counter.numpy()) == 5
    np.testing.assert_allclose(
        [float(v) for v in loaded.capacities()], [float(v) for v in model.capacities()]
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(images)),
        keras.ops.convert_to_numpy(model(images)),
        atol=1e-6,
    )
    # Training the loaded model continues the schedule.
    history = _fit_steps(loaded, images, steps=2)
    assert int(loaded.step_counter.numpy()) == 7
    assert history["capacity_z"][0] == pytest.approx(
        0.2 * 6.5, rel=1e-6
    )  # steps 6 and 7
    # Weights files (checkpoints, backups) carry the counter too.
    weights = os.path.join(tmp_path, "vae.weights.h5")
    loaded.save_weights(weights)
    fresh, _ = _tiny()
    fresh.optimizer.build(fresh.trainable_variables)
    fresh.load_weights(weights)
    assert int(fresh.step_counter.numpy()) == 7


def test_keras_config_round_trip():
    model, _ = _tiny(discrete_dims=(3, 4), temperature=0.5)
    clone = JointVAE.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert clone.discrete_dims == (3, 4) and clone.temperature == 0.5


def test_config_validation():
    with pytest.raises(ConfigError, match="image_size"):
        resolve_config("joint_vae_tiny", image_size=30)
    with pytest.raises(ConfigError, match="capacity_z_max"):
        resolve_config("joint_vae_tiny", capacity_z_min=3.0, capacity_z_max=1.0)
    with pytest.raises(ConfigError, match="discrete_dims"):
        resolve_config("joint_vae_tiny", discrete_dims=(1,))
    with pytest.raises(ConfigError, match="latent"):
        resolve_config("joint_vae_tiny", continuous_dim=0, discrete_dims=())
    with pytest.raises(ConfigError, match="square"):
        build_joint_vae(JointVAEConfig(), input_shape=(32, 16, 1))
    # Purely continuous (a beta-VAE with capacity) and purely discrete models work.
    for overrides in ({"discrete_dims": ()}, {"continuous_dim": 0}):
        model, _ = _tiny(**overrides)
        history = _fit_steps(model, _images(4), steps=1)
        assert np.isfinite(history["loss"][0])


def test_encode_decode_traverse():
    model, _ = _tiny()
    images = _images(5)
    codes = encode(model, images)
    assert codes["mean"].shape == (5, 2) and codes["logvar"].shape == (5, 2)
    assert codes["alphas"][0].shape == (5, 3) and codes["categories"].shape == (5, 1)
    assert codes["latent"].shape == (5, model.latent_size)
    np.testing.assert_allclose(codes["alphas"][0].sum(-1), 1.0, rtol=1e-5)
    reconstructions = decode(model, codes["latent"])
    np.testing.assert_allclose(
        reconstructions, keras.ops.convert_to_numpy(model(images)), atol=1e-6
    )
    latent = make_latent(model, codes["mean"], codes["categories"])
    np.testing.assert_allclose(latent, codes["latent"], atol=1e-6)
    grid = traverse(model, num_steps=6, traverse_dim=0)
    assert grid.shape == (2 + 3, 6, 16, 16, 1)
    # A continuous row changes along the row; category rows differ from each other.
    assert not np.allclose(grid[0, 0], grid[0, -1])
    with pytest.raises(DataError, match="shape"):
        encode(model, np.zeros((2, 8, 8, 1)))
    with pytest.raises(DataError, match="Latent"):
        decode(model, np.zeros((2, 3)))


def test_unsupervised_accuracy_uses_best_one_to_one_mapping():
    labels = np.array([0, 0, 1, 1, 2, 2, -1])
    assert unsupervised_accuracy(np.array([2, 2, 0, 0, 1, 1, 0]), labels) == 1.0
    # Two clusters merged: at most 4 of 6 can be mapped one-to-one.
    assert unsupervised_accuracy(
        np.array([0, 0, 0, 0, 1, 1, 1]), labels
    ) == pytest.approx(4 / 6)


def test_purity_reads_each_cluster_as_its_majority_class():
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, -1])
    # Four clusters over three classes (two for class 0): every one is pure,
    # though a one-to-one mapping can place only three of them.
    split = np.array([0, 0, 3, 3, 1, 1, 2, 2, 0])
    assert cluster_purity(split, labels) == 1.0
    assert unsupervised_accuracy(split, labels) == pytest.approx(6 / 8)
    # One cluster holding two classes scores its larger one.
    assert cluster_purity(np.array([0, 0, 0, 0, 1, 1, 1, 1, 0]), labels) == 0.75


def test_mutual_information_gap():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 8, (4000, 2))
    # Each factor captured by its own code, plus a noise code: gap near 1.
    codes = np.stack(
        [
            factors[:, 0] + rng.normal(0, 0.01, 4000),
            factors[:, 1],
            rng.normal(size=4000),
        ],
        -1,
    )
    mig, per_factor = mutual_information_gap(codes, factors, num_bins=8)
    assert mig > 0.9 and len(per_factor) == 2
    # One code carrying both factors equally: no gap for either.
    mixed = np.stack(
        [factors[:, 0] * 8 + factors[:, 1], factors[:, 0] * 8 + factors[:, 1]], -1
    )
    assert mutual_information_gap(mixed, factors, num_bins=64)[0] < 0.05
    assert mutual_information_gap(rng.normal(size=(4000, 3)), factors)[0] < 0.05


def test_evaluate_writes_pictures_and_metrics(tmp_path):
    from zoo.datasets.base import load_data
    from zoo.tuning.artifacts import write_evaluation

    bundle = load_data(
        "dsprites", kind="vae_image", image_size=16, num_examples=200, seed=1
    )
    model, config = _tiny()
    _fit_steps(
        model,
        np.stack([x for x, _ in bundle.train.take(8).as_numpy_iterator()]),
        steps=2,
    )
    evaluation = evaluate_joint_vae(model, config, bundle)
    metrics = evaluation.metrics
    write_evaluation(evaluation, str(tmp_path))
    for name in ("reconstructions.png", "traversals.png", "samples.png"):
        assert os.path.getsize(tmp_path / name) > 0
    for name in (
        "test_loss",
        "test_reconstruction_loss",
        "test_kl_z",
        "test_kl_c",
        "mig",
        "mig_shape",
    ):
        assert np.isfinite(metrics[name]), name
    assert 0.0 <= metrics["discrete_accuracy"] <= metrics["discrete_purity"] <= 1.0
    assert metrics["step_counter"] == 2
    from PIL import Image

    # Traversals: 2 continuous rows + 3 category rows of 16x16 images at 2x.
    assert Image.open(tmp_path / "traversals.png").size[1] == 5 * (32 + 2) + 2


def test_capacity_ramps_can_start_later():
    assert linear_capacity(100, 0.0, 5.0, 1000, start=200) == 0.0
    assert linear_capacity(700, 0.0, 5.0, 1000, start=200) == pytest.approx(2.5)
    assert linear_capacity(5000, 0.0, 5.0, 1000, start=200) == pytest.approx(5.0)
    assert linear_capacity(3, 1.0, 2.0, 0, start=5) == 1.0
    assert linear_capacity(6, 1.0, 2.0, 0, start=5) == 2.0
    # The model: the continuous ramp waits 4 steps, the discrete one starts at once.
    model, _ = _tiny(capacity_z_start=4)
    for step, (capacity_z, capacity_c) in {2: (0.0, 0.2), 9: (1.0, 0.9)}.items():
        model.step_counter.assign(step)
        values = [float(v) for v in model.capacities()]
        np.testing.assert_allclose(values, [capacity_z, capacity_c], rtol=1e-6)
        assert model.capacities(step) == pytest.approx((capacity_z, capacity_c))


def test_small_alpha_init_starts_every_image_at_the_uniform_code():
    images = _images(16)
    keras.utils.set_random_seed(0)
    small, _ = _tiny(alpha_init_scale=1e-4)
    alphas = encode(small, images)["alphas"][0]
    np.testing.assert_allclose(alphas, 1.0 / 3.0, atol=1e-3)
    results = small.evaluate(images, verbose=0, return_dict=True)
    assert results["kl_c"] == pytest.approx(0.0, abs=1e-5)
    keras.utils.set_random_seed(0)
    glorot, _ = _tiny()
    assert np.abs(encode(glorot, images)["alphas"][0] - 1.0 / 3.0).max() > 1e-3


def test_pytorch_initializer_draws_kernels_and_biases_within_one_over_root_fan_in():
    model, _ = _tiny(initializer="pytorch")
    layers = {layer.name: layer for layer in model.encoder.layers}
    layers.update({"dec_" + layer.name: layer for layer in model.decoder.layers})
    # Fan-ins: alpha head 16 hidden units; first convolution 4x4x1 pixels;
    # the last transposed convolution counts its 1 output channel (PyTorch).
    for name, fan_in in (("alpha_0", 16), ("conv_0", 16), ("dec_pixel_logits", 16)):
        kernel, bias = (keras.ops.convert_to_numpy(w) for w in layers[name].weights)
        bound = 1.0 / np.sqrt(fan_in)
        assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.8 * bound
        assert np.abs(bias).max() <= bound and np.abs(bias).max() > 0
    glorot, _ = _tiny()
    assert not np.any(
        keras.ops.convert_to_numpy(glorot.encoder.get_layer("alpha_0").bias)
    )
    with pytest.raises(ConfigError, match="initializer must be one of glorot, pytorch"):
        resolve_config("joint_vae_tiny", initializer="torch")


def test_marginal_entropy_term_is_off_by_default_and_penalises_a_collapsed_code():
    _, config = resolve_config("joint_vae_mnist")
    assert config.marginal_entropy_weight == 0.0
    images = _images(8)
    off, _ = _tiny(capacity_c_steps=0)
    on = JointVAE.from_config({**off.get_config(), "marginal_entropy_weight": 10.0})
    on.set_weights(off.get_weights())
    # Push every image to category 0: an input-independent (collapsed) code.
    for model in (off, on):
        head = model.encoder.get_layer("alpha_0")
        kernel, bias = head.get_weights()
        head.set_weights([np.zeros_like(kernel), np.array([8.0, 0.0, 0.0], "float32")])
    terms_off = off.compute_terms(images)
    terms_on = on.compute_terms(images)
    alpha = np.exp([8.0, 0.0, 0.0]) / np.exp([8.0, 0.0, 0.0]).sum()
    gap = math.log(3) + float((alpha * np.log(alpha)).sum())
    np.testing.assert_allclose(
        float(terms_on["loss"]) - float(terms_off["loss"]), 10.0 * gap, rtol=1e-4
    )


def test_the_run_says_which_schedule_and_the_steps_left_to_the_papers():
    from zoo.models.joint_vae import describe_schedule

    _, default = resolve_config("joint_vae_mnist")
    line = describe_schedule(default, 1890)
    assert "compressed schedule" in line
    assert f"{25000 - 1890} more than this run" in line
    assert "joint_vae_mnist_paper" in line
    _, paper = resolve_config("joint_vae_mnist_paper")
    line = describe_schedule(paper, 1890)
    assert "the paper's schedule" in line and "capped at 2.30" in line
    assert f"{25000 - 1890} short of its own ramp" in line
    assert "short" not in describe_schedule(paper, 25000)
    # A run that resumes (or has chosen among starts) at step 10,000 and ends
    # at 25,000 reaches the end of its ramp.
    line = describe_schedule(paper, 25000, start_step=10000)
    assert "trains 15000 steps (steps 10000-25000)" in line and "short" not in line
    plain = dataclasses.replace(
        default, gamma_z=1.0, gamma_c=1.0, capacity_z_max=0.0, capacity_c_max=0.0
    )
    line = describe_schedule(plain, 6300)
    assert "no capacity control" in line and "gamma_z 1" in line
    assert "paper" not in line


def test_zoo_train_runs_a_variant_to_the_end_of_its_ramps():
    # Without --epochs, `zoo train` runs the paper's variant for its whole
    # 25,000-step ramp (397 epochs of the 4,000 digits at batch 64), the
    # default for its family's 100; the user's epochs win.
    from zoo.tuning.callbacks import CallbackOptions
    from zoo.tuning.runspec import RunSpec
    from zoo.tuning.train import _run_record, prepare

    for name, epochs, given in (
        ("joint_vae_mnist", 100, None),
        ("joint_vae_mnist_paper", 397, None),
        ("joint_vae_mnist_paper", 3, 3),
    ):
        spec = RunSpec(kind="train", model=name, seed=0, epochs=given)
        spec, record = _run_record(spec, prepare(name, seed=0), CallbackOptions())
        assert spec.epochs == epochs
        assert record["epochs"] == epochs


def test_starts_continue_the_one_with_the_lowest_validation_loss(capsys, monkeypatch):
    from zoo.models import joint_vae as family_module

    _, config = resolve_config("joint_vae_tiny", starts=3, start_steps=2)
    train, validation = _streams(_images(8))
    seen = {}

    def spy(model, *args, **kwargs):
        seen["losses"] = real(model, *args, **kwargs)
        seen["after"] = model.evaluate(validation, verbose=0, return_dict=True)
        seen["step"] = int(keras.ops.convert_to_numpy(model.step_counter))
        seen["optimizer"] = [
            keras.ops.convert_to_numpy(v) for v in model.optimizer.variables
        ]
        return seen["losses"]

    real = family_module.choose_start
    monkeypatch.setattr(family_module, "choose_start", spy)
    starts = []

    def build_start(*args, **kwargs):
        starts.append(build_joint_vae(*args, **kwargs))
        return starts[-1]

    monkeypatch.setattr(family_module, "build_joint_vae", build_start)
    model = build_joint_vae(config, input_shape=(16, 16, 1))
    family_module.compile_joint_vae(model, config)
    history = family_module.fit_joint_vae(
        model, config, train, epochs=3, steps_per_epoch=1, validation_data=validation
    )
    losses = seen["losses"]
    assert len(losses) == 3 and len({round(v, 4) for v in losses}) == 3
    # With the test's seeds a fresh start wins, so the copy into the model
    # is what the next assertions check.
    assert losses.index(min(losses)) != 0
    # After the starts the model holds the lowest one, two steps into its
    # schedule (weights, step counter); the run then trains the third epoch.
    assert seen["after"]["loss"] == pytest.approx(min(losses), rel=1e-4)
    assert seen["step"] == 2
    # Adam's moments and step count came with the weights.
    winner = starts[losses.index(min(losses)) - 1]
    for mine, theirs in zip(seen["optimizer"], winner.optimizer.variables):
        np.testing.assert_array_equal(mine, keras.ops.convert_to_numpy(theirs))
    out = capsys.readouterr().out
    assert "3 starts of 2 steps each" in out
    best = losses.index(min(losses)) + 1
    assert f"start {best}: validation loss {min(losses):.1f}" in out
    assert f"continuing start {best}." in out
    assert "trains 1 steps (steps 2-3)" in out
    assert len(history["loss"]) == 1
    assert int(keras.ops.convert_to_numpy(model.step_counter)) == 3

    with pytest.raises(ConfigError, match="starts and start_steps must be >= 1"):
        resolve_config("joint_vae_tiny", starts=0)
    fresh = build_joint_vae(config, input_shape=(16, 16, 1))
    family_module.compile_joint_vae(fresh, config)
    for missing in ({"steps_per_epoch": 1}, {"validation_data": validation}):
        with pytest.raises(ConfigError, match="give validation data and steps_per"):
            family_module.fit_joint_vae(fresh, config, train, epochs=3, **missing)


def test_a_resumed_run_does_not_choose_its_start_again(tmp_path, capsys):
    from zoo.models.joint_vae import compile_joint_vae, fit_joint_vae
    from zoo.tuning.callbacks import AtomicBackupAndRestore

    _, config = resolve_config("joint_vae_tiny", starts=2, start_steps=1)
    train, validation = _streams(_images(8))
    for epochs in (2, 3):  # The second fit resumes the first from its backup.
        model = build_joint_vae(config, input_shape=(16, 16, 1))
        compile_joint_vae(model, config)
        fit_joint_vae(
            model,
            config,
            train,
            epochs=epochs,
            steps_per_epoch=1,
            validation_data=validation,
            callbacks=[AtomicBackupAndRestore(str(tmp_path / "backup"))],
            verbose=0,
        )
        out = capsys.readouterr().out
        assert ("2 starts of 1 steps each" in out) == (epochs == 2)
    assert int(keras.ops.convert_to_numpy(model.step_counter)) == 3


def test_a_run_killed_during_its_starts_trains_only_the_starts_it_had_not_finished(
    tmp_path, capsys, monkeypatch
):
    from zoo.models import joint_vae as family_module
    from zoo.tuning.callbacks import AtomicBackupAndRestore

    _, config = resolve_config("joint_vae_tiny", starts=3, start_steps=1)
    train, validation = _streams(_images(8))
    build = family_module.build_joint_vae

    def run(backup, builds_before_kill=None):
        built = []

        def counting_build(*args, **kwargs):
            if len(built) == builds_before_kill:
                raise RuntimeError("killed")
            built.append(build(*args, **kwargs))
            return built[-1]

        monkeypatch.setattr(family_module, "build_joint_vae", counting_build)
        keras.utils.set_random_seed(0)
        model = build(config, input_shape=(16, 16, 1))
        family_module.compile_joint_vae(model, config)
        family_module.fit_joint_vae(
            model,
            config,
            train,
            epochs=1,  # The starts only: the chosen one is the model.
            steps_per_epoch=1,
            validation_data=validation,
            callbacks=[AtomicBackupAndRestore(str(backup))],
            verbose=0,
        )
        out = capsys.readouterr().out
        losses = [float(loss) for loss in re.findall(r"validation loss ([0-9.]+)", out)]
        return model, out, losses, len(built)

    whole, _, losses, _ = run(tmp_path / "whole")
    # Killed while building its third start: the first two are kept.
    with pytest.raises(RuntimeError, match="killed"):
        run(tmp_path / "killed", builds_before_kill=1)
    capsys.readouterr()
    resumed, out, _, built = run(tmp_path / "killed")
    assert "start 1: validation loss" in out and "(kept)" in out
    assert out.count("(kept)") == 2
    # One start trained again (plus one build drawn and dropped to reach its
    # initial weights), and it is the start the whole run trained third.
    assert built == 2
    third = float(out.split("start 3: validation loss ")[1].split()[0])
    assert third == pytest.approx(losses[2], abs=0.051)
    best = losses.index(min(losses)) + 1
    assert f"continuing start {best}." in out
    assert int(keras.ops.convert_to_numpy(resumed.step_counter)) == 1
    for mine, theirs in zip(resumed.trainable_weights, whole.trainable_weights):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
