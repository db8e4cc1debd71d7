"""`python -m studio` entry point."""

from studio.cli import main

raise SystemExit(main())
