"""``backprop explore``: a local page where backpropagation happens in front of you.

:func:`serve` starts :class:`~backpropagation.explore.server.Explorer` on 127.0.0.1 with a
:class:`~backpropagation.explore.session.Session` (a small network on 2-D data) and opens the
page. Step runs one real training step (``NeuralNetwork.trace(..., apply=True)``) on the next
sample and shows every layer's x, z, a, δ, ∂L/∂W, ∂L/∂b and W before and after; Train runs
``fit`` epoch by epoch while the decision boundary and the loss curve move.
"""

from __future__ import annotations

import webbrowser

from .server import Explorer
from .session import DATASETS, Session, make_dataset

__all__ = ["DATASETS", "Explorer", "Session", "make_dataset", "serve"]


def serve(session: Session, port: int = 0, open_browser: bool = True) -> None:
    """Serve ``session`` on 127.0.0.1:``port`` until Ctrl-C (port 0: a free port)."""
    server = Explorer(session, port)
    print(f"backprop explore: {server.url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped")
    finally:
        server.server_close()
