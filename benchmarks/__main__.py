"""``python -m benchmarks --help``."""

from .cli import main

raise SystemExit(main())
