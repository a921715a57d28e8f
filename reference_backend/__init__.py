"""A local implementation of the hello.nrfcloud.com backend API subset the specs exercise.

See BACKEND.md: websocket, device shadow (LwM2M), FOTA jobs, and a test set-up API.
"""

# The distribution's version (harness/__init__.py has the one written out; a test keeps
# them equal): the backend reports it in its health check without importing the harness.
__version__ = "0.1.0"
