"""``python -m libchatty``: the command-line client (``libchatty.bindings.cli``).

The binding is imported only when this runs, so importing this module keeps the core
free of I/O (and by name, so the core's type check does not follow it into bindings/).
"""

if __name__ == "__main__":
    import importlib

    raise SystemExit(importlib.import_module("libchatty.bindings.cli").main())
