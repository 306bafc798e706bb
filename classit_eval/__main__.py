"""`python -m classit_eval <job>`: the same as `classit-eval <job>`."""

import sys

from classit_eval.cli import main

sys.exit(main())
