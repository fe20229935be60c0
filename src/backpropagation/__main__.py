"""``python -m backpropagation`` runs the ``backprop`` command."""

import sys

from .cli import main

sys.exit(main())
