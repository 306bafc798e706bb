"""`python -m classit_eval.finetune` (e.g. under `accelerate launch` or `torchrun`): the same
as `classit-finetune`."""

import sys

from classit_eval.cli import finetune_main

sys.exit(finetune_main())
