"""`python -m harness` is `spec-harness`."""

from .entry import main

main()
