"""A local implementation of the hello.nrfcloud.com backend API subset the specs exercise.

See BACKEND.md: websocket, device shadow (LwM2M), FOTA jobs, and a test set-up API.
"""

from importlib import metadata

try:
    __version__ = metadata.version("hello-spec-harness")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0-development"
