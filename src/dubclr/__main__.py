import sys

from dubclr.cli import main

sys.exit(main())
