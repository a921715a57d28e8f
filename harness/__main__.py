"""`python -m harness` is `spec-harness`."""

from .cli import main

main()
