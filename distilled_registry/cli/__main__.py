"""``python -m distilled_registry.cli``: the ``distilled-registry`` command."""

import sys

from . import main

sys.exit(main())
