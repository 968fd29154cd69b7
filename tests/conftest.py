import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault(
    "KERAS_HOME", os.path.join(os.path.dirname(__file__), ".keras_home")
)

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from a clean Keras session and fixed seeds."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(1337)
    yield
