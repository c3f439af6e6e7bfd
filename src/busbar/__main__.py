"""`python -m busbar` runs the command line."""

from busbar.cli import main

raise SystemExit(main())
