"""``python -m portable_dnn``: the ``portable-dnn`` command line (see :mod:`portable_dnn.cli`)."""

from .cli import main

raise SystemExit(main())
