"""Launch the genrec chat UI from a checkout: `python ui.py [--host H] [--port P]` (same as `genrec ui`)."""
from genrec.apps.ui import main

main()
