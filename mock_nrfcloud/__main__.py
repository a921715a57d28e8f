"""`python -m mock_nrfcloud`: the same as the `mock-nrfcloud` command."""

from .cli import main

raise SystemExit(main())
