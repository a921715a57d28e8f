"""`python -m reference_backend` is the same as the `hello-backend` console script."""

from reference_backend.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
