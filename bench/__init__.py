"""Benchmarks of keras-zoo: `python -m bench.<name>`, or `python -m bench.all`.

Each module prints a table and writes it, with the machine's description, to
`bench/results/<name>.md` and `bench/results/<name>.json`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
