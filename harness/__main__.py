"""`python -m harness` is `spec-harness`."""

from .cli import main

raise SystemExit(main())
