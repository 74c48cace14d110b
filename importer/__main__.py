"""`python -m importer` is the same as the `importer` console script."""

from importer.cli import main

raise SystemExit(main())
