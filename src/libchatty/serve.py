"""``python -m libchatty.serve``: the local replay server (``libchatty.bindings.server``).

The import happens only when run, so importing this module keeps the core free of I/O.
"""

if __name__ == "__main__":
    from libchatty.bindings.server import main

    raise SystemExit(main())
