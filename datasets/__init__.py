"""Data pipelines, installed as `zoo.datasets` (see docs/design.md).

Python started in the repository root also sees this folder as a top-level
`datasets` package, ahead of anything installed, which would hide Hugging
Face's `datasets`. Imported under that name, the folder hands over to the
installed package of the same name when there is one, so both stay usable.
"""

if __name__ == "datasets":
    import importlib.machinery
    import importlib.util
    import os
    import sys

    _root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    _path = [p for p in sys.path if os.path.abspath(p or os.curdir) != _root]
    _spec = importlib.machinery.PathFinder.find_spec(__name__, _path)
    if _spec is not None and _spec.loader is not None:
        # The import system returns whatever sits in sys.modules after this
        # file runs, so the installed package replaces this folder.
        _module = importlib.util.module_from_spec(_spec)
        sys.modules[__name__] = _module
        _spec.loader.exec_module(_module)
