"""`python -m harness` is `spec-harness`."""

from .entry import main

raise SystemExit(main())
