#!/usr/bin/env bash
# The optional AutoKeras environment for the peer benchmark (issue 18); never a package requirement.
# AutoKeras 3.0.0 passes a NumPy integer to Dense(units=...), which Keras >= 3.13.0 refuses
# ("expected a positive integer. Received: units=1"); 3.12.4 is the newest Keras it runs with
# (checked 2026-12-02: 3.15.1, 3.14.1, 3.13.2 and 3.13.0 refuse; 3.12.4 fits an ImageClassifier).
# It reuses the zoo's environment (TensorFlow 2.21, KerasTuner 1.4.8) and shadows only Keras.
set -euo pipefail
BASE=${1:-/work/venv}
TARGET=${2:-/work/venv-autokeras}
python3 -m venv "$TARGET"
"$BASE/bin/python" -c "import site; print(site.getsitepackages()[0])" \
  > "$TARGET/lib/python3.11/site-packages/_base.pth"
"$TARGET/bin/pip" install --no-deps autokeras==3.0.0 keras==3.12.4 dm-tree
"$TARGET/bin/python" -c "import numpy as np, keras, autokeras; keras.layers.Dense(np.int64(1)); print('autokeras', autokeras.__version__, 'keras', keras.__version__)"
