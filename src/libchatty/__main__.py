"""``python -m libchatty``: the command-line client (``libchatty.bindings.cli``).

The import happens only when run, so importing this module keeps the core free of I/O.
"""

if __name__ == "__main__":
    from libchatty.bindings.cli import main

    raise SystemExit(main())
