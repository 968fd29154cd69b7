"""Distributed search (KerasTuner chief/workers) and data-parallel training.

Search: KerasTuner runs one oracle process (the chief) and any number of
workers that ask it for trials over gRPC. Each process reads three variables:

    KERASTUNER_TUNER_ID     "chief" for the oracle, a unique id per worker
    KERASTUNER_ORACLE_IP    address of the chief (127.0.0.1 by default here)
    KERASTUNER_ORACLE_PORT  its port

`zoo tune ... --distributed chief|worker [--oracle-address HOST:PORT]
[--tuner-id ID]` sets them; `--distributed local --workers N` starts a
chief and N workers on this machine. All processes get the same arguments
and the same `--run-dir`, which must be one folder they all see (one
machine, or a shared file system): workers write trial checkpoints there and
the chief writes `results.csv`, `best/` and `report.html` from them. The
chief binds to the address it is given; 127.0.0.1 unless you choose
another, since the gRPC channel is unauthenticated.

Training: `strategy_scope("mirrored")` (all local GPUs, or the CPU) or
`strategy_scope("multiworker")` (`MultiWorkerMirroredStrategy`; each worker
process sets `TF_CONFIG`, e.g. via `tf_config(workers, index)`). Create the
strategy with `get_strategy(name)` before any other TensorFlow op in the
process: a multi-worker strategy must configure the runtime first.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time

from zoo.errors import ConfigError, ZooError

ROLES = ("chief", "worker", "local")
STRATEGIES = ("default", "mirrored", "multiworker")
DEFAULT_ADDRESS = "127.0.0.1:8000"


def search_role():
    """None outside distributed search, else "chief" or "worker" (from env)."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "")
    if "KERASTUNER_ORACLE_PORT" not in os.environ or not tuner_id:
        raise ConfigError(
            "KERASTUNER_ORACLE_IP is set, so KERASTUNER_ORACLE_PORT and "
            "KERASTUNER_TUNER_ID must be set too (or unset all three)."
        )
    return "chief" if "chief" in tuner_id else "worker"


def parse_address(address):
    host, sep, port = str(address or DEFAULT_ADDRESS).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"Cannot read oracle address {address!r}; write HOST:PORT, e.g. {DEFAULT_ADDRESS}."
        )
    return host, int(port)


def search_environment(role, address=None, tuner_id=None):
    """The KERASTUNER_* variables for one process of a distributed search."""
    if role not in ("chief", "worker"):
        raise ConfigError(
            f"Distributed role must be 'chief' or 'worker', got {role!r}."
        )
    host, port = parse_address(address)
    if role == "chief":
        tuner_id = "chief"
    else:
        tuner_id = tuner_id or f"worker-{socket.gethostname()}-{os.getpid()}"
        if "chief" in tuner_id:
            raise ConfigError(
                f"A worker's tuner id must not contain 'chief': {tuner_id!r}."
            )
    return {
        "KERASTUNER_TUNER_ID": tuner_id,
        "KERASTUNER_ORACLE_IP": host,
        "KERASTUNER_ORACLE_PORT": str(port),
    }


def configure_search(role, address=None, tuner_id=None):
    """Sets this process's KERASTUNER_* variables; call before building a tuner."""
    os.environ.update(search_environment(role, address, tuner_id))


CHIEF_TIMEOUT = 300  # Seconds a worker waits for its chief to listen.
# Exit status of a worker that stopped after its --trials-per-worker
# (EX_TEMPFAIL): `launch_local` starts a fresh process in its place.
RECYCLED_EXIT = 75
# Seconds `launch_local` waits, once every worker failed, for the chief to
# exit with its own one-line reason (they refuse the same arguments).
CHIEF_GRACE_S = 30


def check_trials_per_worker(trials_per_worker, role):
    """`trials_per_worker` is None or >= 1, and only for a distributed search."""
    if trials_per_worker is None:
        return
    if isinstance(trials_per_worker, bool) or not isinstance(trials_per_worker, int):
        raise ConfigError(
            f"--trials-per-worker must be a whole number, got {trials_per_worker!r}."
        )
    if trials_per_worker < 1:
        raise ConfigError(f"--trials-per-worker must be >= 1, got {trials_per_worker}.")
    if role is None:
        raise ConfigError(
            "--trials-per-worker recycles the worker processes of a distributed "
            "search; add --distributed local (one machine) or run it on workers."
        )


def wait_for_chief(timeout=CHIEF_TIMEOUT):
    """Returns once the chief's oracle accepts connections; raises `ZooError`
    after `timeout` seconds.

    KerasTuner's client waits up to an hour for a chief that may never start
    (keras-tuner 1.4.8, `oracle_client.TIMEOUT`); a TCP connect with a
    deadline tells a worker started alone in seconds, in one line.
    """
    host = os.environ["KERASTUNER_ORACLE_IP"]
    port = int(os.environ["KERASTUNER_ORACLE_PORT"])
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        try:
            with socket.create_connection(
                (host, port), timeout=max(0.1, min(5, remaining))
            ):
                return
        except OSError:
            if remaining <= 0:
                raise ZooError(
                    f"No chief answered at {host}:{port} within {timeout:g} s; start "
                    "`zoo tune --distributed chief` there first, or raise --chief-timeout."
                ) from None
            time.sleep(min(0.5, max(0.0, remaining)))


def free_port(host="127.0.0.1"):
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def launch_local(tune_args, *, workers=2, port=None, timeout=None, env=None):
    """Runs `zoo tune TUNE_ARGS` as a chief and `workers` workers on this machine.

    A worker that stops after its `--trials-per-worker` (exit status
    `RECYCLED_EXIT`) is started again in a fresh process while the chief
    still hands out trials: the memory a process keeps per fitted model goes
    back to the system with it.

    Args:
        tune_args: The `zoo tune` arguments (model, --run-dir, ...), without
            any --distributed option.
        workers: Number of worker processes.
        port: Oracle port on 127.0.0.1 (a free one when None).
        timeout: Seconds before every process is killed (None: no limit).
        env: Extra environment for every process.

    Returns:
        The chief's exit code. Every process is killed on the way out.

    Raises:
        ZooError: Past `timeout`, or when every worker failed while the chief
            still runs `CHIEF_GRACE_S` later (a chief that exits first, having
            refused the arguments its workers refused, gives its own code).
    """
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}.")
    address = f"127.0.0.1:{port or free_port()}"
    base_env = {**os.environ, **(env or {})}
    command = [sys.executable, "-m", "zoo", "tune", *tune_args]

    def start_worker(index):
        return subprocess.Popen(
            [
                *command,
                *("--distributed", "worker", "--oracle-address", address),
                *("--tuner-id", f"worker{index}"),
            ],
            env=base_env,
        )

    chief = subprocess.Popen(
        [*command, "--distributed", "chief", "--oracle-address", address],
        env=base_env,
    )
    pool = []
    try:
        pool = [start_worker(index) for index in range(workers)]
        deadline = None if timeout is None else time.monotonic() + timeout
        while chief.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise ZooError(
                    f"The distributed search ran past {timeout} s; stopped it."
                )
            for index, worker in enumerate(pool):
                if worker.poll() == RECYCLED_EXIT:
                    pool[index] = start_worker(index)
            if all(w.poll() not in (None, 0, RECYCLED_EXIT) for w in pool):
                # Workers share the chief's arguments: when they refused them,
                # the chief is refusing them too and its one line says why.
                try:
                    if chief.wait(timeout=CHIEF_GRACE_S) != 0:
                        return chief.returncode
                except subprocess.TimeoutExpired:
                    pass
                raise ZooError(
                    "Every worker of the distributed search failed; see their output above."
                )
            time.sleep(0.5)
        if chief.returncode != 0:
            # Its one-line error is printed; workers would wait for it in vain.
            return chief.returncode
        for worker in pool:
            remaining = (
                None if deadline is None else max(1, deadline - time.monotonic())
            )
            worker.wait(timeout=remaining)
        return chief.returncode
    finally:
        for process in [chief, *pool]:
            if process.poll() is None:
                process.kill()
                process.wait()


# -- data-parallel training -------------------------------------------------

_STRATEGIES = {}


def tf_config(worker_addresses, index):
    """A TF_CONFIG JSON for worker `index` of a MultiWorkerMirroredStrategy."""
    return json.dumps(
        {
            "cluster": {"worker": list(worker_addresses)},
            "task": {"type": "worker", "index": index},
        }
    )


def get_strategy(name=None):
    """The `tf.distribute` strategy named `name` (created once per process).

    Args:
        name: None or "default" (no distribution), "mirrored" (one process,
            every local device), "multiworker" (several processes, each with
            `TF_CONFIG` set).
    """
    import tensorflow as tf

    key = name or "default"
    if key not in STRATEGIES:
        raise ConfigError(
            f"Unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}."
        )
    if key not in _STRATEGIES:
        if key == "default":
            strategy = tf.distribute.get_strategy()
        elif key == "mirrored":
            strategy = tf.distribute.MirroredStrategy()
        else:
            if not os.environ.get("TF_CONFIG"):
                raise ConfigError(
                    "--strategy multiworker needs TF_CONFIG in each worker's environment "
                    '({"cluster": {"worker": [...]}, "task": {"type": "worker", "index": i}}).'
                )
            try:
                strategy = tf.distribute.MultiWorkerMirroredStrategy()
            except (RuntimeError, ValueError) as error:
                raise ConfigError(
                    f"Cannot start MultiWorkerMirroredStrategy ({error}); create it before "
                    "any other TensorFlow op (call get_strategy first) and check TF_CONFIG."
                ) from None
        _STRATEGIES[key] = strategy
    return _STRATEGIES[key]


@contextlib.contextmanager
def strategy_scope(name=None):
    """`with strategy_scope("mirrored"):` build and compile the model inside.

    Yields the strategy. Batches given to `fit` are global batches, split
    between the replicas.
    """
    strategy = get_strategy(name)
    with strategy.scope():
        yield strategy


def shard_by_data(dataset):
    """Sets DATA auto-sharding, which in-memory pipelines need across workers."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.with_options(options)


def fit_multiworker(model, dataset, *, epochs, global_batch_size, strategy=None):
    """Trains a compiled model with a custom loop under a multi-worker strategy.

    Keras 3's `model.fit` fails under `MultiWorkerMirroredStrategy` (it
    cannot convert the `PerReplica` batches: keras-team/keras#20585), while
    a `strategy.run` loop works. This loop uses the model's compiled loss and
    optimizer; metrics and callbacks are not run.

    Args:
        model: A model built and compiled inside `strategy.scope()`.
        dataset: Batched `tf.data.Dataset` of `(x, y)` with global batches.
        epochs: Epochs to run.
        global_batch_size: Batch size summed over all replicas.
        strategy: The strategy (the multi-worker one when None).

    Returns:
        The mean training loss of each epoch.
    """
    import tensorflow as tf

    strategy = strategy or get_strategy("multiworker")
    loss_object = model.loss
    unreduced = getattr(loss_object, "fn", None) or loss_object
    optimizer = model.optimizer

    @tf.function
    def step(x, y):
        def replica(x, y):
            with tf.GradientTape() as tape:
                per_example = unreduced(y, model(x, training=True))
                loss = tf.nn.compute_average_loss(
                    per_example, global_batch_size=global_batch_size
                )
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        return strategy.reduce("SUM", strategy.run(replica, args=(x, y)), axis=None)

    losses = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for x, y in strategy.experimental_distribute_dataset(dataset):
            total += float(step(x, y))
            count += 1
        losses.append(total / max(1, count))
    return losses
