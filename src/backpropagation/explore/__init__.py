"""``backprop explore``: a local page where backpropagation happens in front of you.

:func:`serve` starts :class:`~backpropagation.explore.server.Explorer` on 127.0.0.1 with a
:class:`~backpropagation.explore.session.Session` per browser tab (a small network on 2-D data)
and opens the page. A step runs one real training step (``NeuralNetwork.trace``) on the next
sample and shows every layer's x, z, a, δ, ∂L/∂W, ∂L/∂b and the update term by term, phase by
phase; Your turn (:mod:`.your_turn`) hides one number for the learner to compute; layer health
(:mod:`.health`) and the optimizers' loss landscape (:mod:`.landscape`) show what training does;
Train runs ``fit`` epoch by epoch while the decision boundary and the loss curve move.
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
