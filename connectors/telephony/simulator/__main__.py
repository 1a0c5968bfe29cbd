"""``python -m connectors.telephony.simulator``: run the RingCentral simulator until Ctrl-C."""

import sys

from . import main

sys.exit(main(sys.argv[1:]))
