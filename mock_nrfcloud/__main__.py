"""`python -m mock_nrfcloud`: the same as the `mock-nrfcloud` command."""

from mock_nrfcloud.cli import main

raise SystemExit(main())
