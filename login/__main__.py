"""`python -m login`: the login service (what `ivrctl api` runs)."""

import sys

from login.serve import main

sys.exit(main())
