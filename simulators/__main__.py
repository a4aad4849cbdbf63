"""`python -m simulators`: run both API simulators until Ctrl-C."""

from simulators.server import main

raise SystemExit(main())
