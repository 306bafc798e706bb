"""`python -m classit_eval.finetune` (e.g. under `accelerate launch` or `torchrun`): the same
as `classit-finetune`."""

import sys

from classit_eval.finetune.cli import main

sys.exit(main())
