"""The names other parts of the package rely on: one place for each contract.

Task names are a contract between the task configs (`tasks/`), results files and the
tools that read them (`classit-zscore`, the leaderboard export); file names are a contract
between the training steps and the comparison. Change one here and everything follows.
"""

from __future__ import annotations

TASK_PREFIX = "classit_"
FAST_SUFFIX = "_fast"  # `classit_blimp_fast` is the fast-eval twin of `classit_blimp`
FINETUNE_PREFIX = "classit_finetune_"  # results of `classit-eval finetune` use these tasks


def finetune_task(name: str) -> str:
    """The lm-eval task name of a fine-tuning task: `rte` -> `classit_finetune_rte`."""
    return FINETUNE_PREFIX + name


# How a request is scored (the `classit` backend's `scoring`, AoA's `--mode`): `full`, every
# request as written; `babylm2025`, as the official BabyLM 2025 pipeline scores it.
SCORING_MODES = ("full", "babylm2025")

# The official backends (`--backend` of the official scripts, the `classit` model's `backend`
# argument; a submission file's name carries one): how a model family is scored.
MASKED_BACKENDS = ("mlm", "mntp")
ENC_DEC_BACKENDS = ("enc_dec_mask", "enc_dec_prefix")
BACKENDS = ("causal", *MASKED_BACKENDS, *ENC_DEC_BACKENDS)

# classit-train writes this file into every folder it makes; classit-zscore reads it.
TRAINING_METADATA = "classit_train.json"

# Entity tracking items have 0 to 5 operations: metrics `acc_numops_0` .. `acc_numops_5`.
NUMOPS = range(6)


def numops_metric(numops: int) -> str:
    """The entity-tracking accuracy of the items with `numops` operations: `acc_numops_3`."""
    return f"acc_numops_{numops}"


# The reading task: the csv's dependent variables, the two scores and their intervals.
EYE_TRACKING = ("RTfirstfix", "RTfirstpass", "RTgopast", "RTrightbound")
SELF_PACED = "self_paced_reading_time"
EEG = ("ELAN", "LAN", "N400", "P600", "EPNP", "PNP")
READING_VARIABLES = (*EYE_TRACKING, SELF_PACED, *EEG)
READING_SCORES = ("eye_tracking", "self_paced_reading")
# Null baselines beside each score (classit_eval.reading.nulls): the score of the token-count
# surprisal, and the mean, 95th percentile and p-value of the within-sentence permutation null.
READING_NULL_FIELDS = ("token_null", "null_mean", "null_p95", "null_p")
READING_NULLS = tuple(f"{score}_{field}" for score in READING_SCORES
                      for field in READING_NULL_FIELDS)
READING_METRICS = (
    *READING_SCORES, *READING_VARIABLES,
    *(f"{score}_ci_{end}" for score in READING_SCORES for end in ("low", "high")),
    *READING_NULLS,
)

# A document field through which a task asks the `classit` backend for a scoring
# encoding by name (classit_eval.scoring.ENCODINGS), without the backend
# importing the task.
ENCODING_FIELD = "classit_encoding"

# A document field listing the official pipeline's context of each candidate (its
# `prefixes`), where it is not the request's: EWoK's second target after Context2. Only
# the `enc_dec_prefix` backend reads it, in scoring=babylm2025.
PREFIXES_FIELD = "classit_prefixes"

# COMPS: the subset of each data file, by file stem, as the official reader (`decode_comps`)
# names them; any other stem counts as COMPS_OTHER. Each subset is a task
# `classit_comps_<subset>` and a subtask key of the submission.
COMPS_SUBSETS = {"comps_base": "base", "comps_wugs": "wugs",
                 "comps_wugs_dist-before": "wugs_dist_before"}
COMPS_OTHER = "wugs_dist_in_between"
COMPS_SUBSET_NAMES = (*COMPS_SUBSETS.values(), COMPS_OTHER)


def comps_subset(stem: str) -> str:
    """The COMPS subset of a data file: `comps_wugs` -> `wugs`, an unknown stem -> the last."""
    return COMPS_SUBSETS.get(stem, COMPS_OTHER)
