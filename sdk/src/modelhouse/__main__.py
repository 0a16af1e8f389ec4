"""``python -m modelhouse``: the same as the ``modelhouse`` command."""

import sys

from modelhouse.cli import main

sys.exit(main())
