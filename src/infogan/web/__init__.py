"""The latent explorer: a small web app to turn a trained run's codes by hand.

``infogan serve RUN_DIR`` starts it; :func:`serve` is the same from Python.
"""

from infogan.web.explorer import Explorer
from infogan.web.server import ServeError, create_app, serve

__all__ = ["Explorer", "ServeError", "create_app", "serve"]
