"""`python -m territory.simulators`: run both API simulators until Ctrl-C."""

from territory.simulators.server import main

raise SystemExit(main())
