"""`python -m harness` is `spec-harness`."""

from harness.entry import main

raise SystemExit(main())
