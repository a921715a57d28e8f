# The one place the distribution's version is written: pyproject.toml reads it from here
# (`[tool.setuptools.dynamic]`). A constant, because asking importlib.metadata costs a
# run ~10 ms of start-up.
__version__ = "0.1.0"
