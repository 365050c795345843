"""Entry point for ``python -m rmc_outreach``."""

import sys

from rmc_outreach.cli import main

sys.exit(main())
