"""`python -m genrec ...` runs the command line."""
import sys

from genrec.apps.cli import main

sys.exit(main())
