"""``python -m mock_nrfcloud``: the same as the ``mock-nrfcloud`` command."""

import sys

from .cli import main

sys.exit(main())
