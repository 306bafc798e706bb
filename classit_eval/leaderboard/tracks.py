"""What a BabyLM 2025 submission holds: task keys and item counts (the tracks' revisions are
in `data.series`).

Restated from the official pipeline (github babylm/evaluation-pipeline-2025,
`evaluation_pipeline/collate_preds.py`, `sentence_zero_shot/read_files.py`), which asserts
these counts when it collates a submission. Kept as data, in one place, so that the run,
the export and the check agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass

# The official backends (`--backend` of the official scripts); the file name carries one.
OFFICIAL_BACKENDS = ("causal", "mlm", "mntp", "enc_dec_mask", "enc_dec_prefix")


# -- item counts ----------------------------------------------------------------------------
BLIMP_SIZES = {
    "superlative_quantifiers_2": 986, "superlative_quantifiers_1": 979,
    "anaphor_gender_agreement": 971, "principle_a_reconstruction": 967,
    "irregular_past_participle_adjectives": 961, "sentential_subject_island": 961,
    "wh_island": 960, "left_branch_island_simple_question": 951,
    "coordinate_structure_constraint_object_extraction": 949, "tough_vs_raising_1": 948,
    "left_branch_island_echo_question": 947, "principle_a_c_command": 946,
    "regular_plural_subject_verb_agreement_2": 945, "irregular_past_participle_verbs": 942,
    "determiner_noun_agreement_with_adj_2": 941, "principle_a_domain_3": 941,
    "determiner_noun_agreement_with_adjective_1": 933, "anaphor_number_agreement": 931,
    "determiner_noun_agreement_2": 931, "existential_there_quantifiers_1": 930,
    "determiner_noun_agreement_1": 929, "matrix_question_npi_licensor_present": 929,
    "adjunct_island": 928, "existential_there_subject_raising": 924,
    "animate_subject_trans": 923, "drop_argument": 920, "tough_vs_raising_2": 920,
    "wh_vs_that_with_gap": 919, "sentential_negation_npi_licensor_present": 919,
    "principle_a_case_2": 915, "principle_a_domain_2": 915, "principle_a_domain_1": 914,
    "npi_present_2": 914, "principle_a_case_1": 912, "existential_there_quantifiers_2": 911,
    "wh_vs_that_with_gap_long_distance": 910, "npi_present_1": 909,
    "coordinate_structure_constraint_complex_left_branch": 906, "passive_2": 903,
    "wh_questions_subject_gap": 898, "animate_subject_passive": 895,
    "irregular_plural_subject_verb_agreement_2": 892,
    "regular_plural_subject_verb_agreement_1": 890, "only_npi_licensor_present": 882,
    "wh_vs_that_no_gap_long_distance": 875, "distractor_agreement_relative_clause": 871,
    "sentential_negation_npi_scope": 871, "intransitive": 868, "transitive": 868,
    "wh_vs_that_no_gap": 861, "wh_questions_object_gap": 859,
    "wh_questions_subject_gap_long_distance": 857, "inchoative": 855,
    "complex_np_island": 846, "passive_1": 840,
    "determiner_noun_agreement_with_adj_irregular_2": 840, "only_npi_scope": 837,
    "ellipsis_n_bar_2": 828, "determiner_noun_agreement_irregular_2": 820, "causative": 818,
    "existential_there_object_raising": 812, "irregular_plural_subject_verb_agreement_1": 804,
    "ellipsis_n_bar_1": 802, "distractor_agreement_relational_noun": 788,
    "expletive_it_object_raising": 759, "determiner_noun_agreement_with_adj_irregular_1": 718,
    "determiner_noun_agreement_irregular_1": 681,
}
SUPPLEMENT_SIZES = {"hypernym": 842, "qa_congruence_easy": 64, "qa_congruence_tricky": 165,
                    "subject_aux_inversion": 3867, "turn_taking": 280}
EWOK_SIZES = {
    "agent-properties": 2210, "social-relations": 1548, "physical-relations": 818,
    "material-dynamics": 770, "physical-interactions": 556, "spatial-relations": 490,
    "social-properties": 328, "quantitative-properties": 314, "social-interactions": 294,
    "material-properties": 170, "physical-dynamics": 120,
}
_ET_REGULAR = {0: 606, 1: 607, 2: 606, 3: 606, 4: 568, 5: 159}
_ET_AMBIREF = {0: 607, 1: 607, 2: 604, 3: 604, 4: 615, 5: 187}
_ET_MOVE = {0: 605, 1: 606, 2: 605, 3: 606, 4: 529, 5: 156}
ENTITY_TRACKING_FAST_SIZES = {f"regular_{k}_ops": n for k, n in _ET_REGULAR.items()}
ENTITY_TRACKING_SIZES = {
    f"{name}_{k}_ops": n
    for name, sizes in (("regular", _ET_REGULAR), ("ambiref", _ET_AMBIREF),
                        ("move_contents", _ET_MOVE))
    for k, n in sizes.items()
}
COMPS_SIZES = {"base": 49340, "wugs_dist_before": 13896, "wugs_dist_in_between": 13896,
               "wugs": 13896}
GLUE_SIZES = {"boolq": 1635, "mnli": 4908, "mrpc": 204, "multirc": 2424, "qqp": 20215,
              "rte": 139, "wsc": 52}
GLUE_LABELS = {task: (3 if task == "mnli" else 2) for task in GLUE_SIZES}
# The organisers' GLUE score: accuracy, except F1 for MRPC and QQP (official README).
GLUE_F1 = ("mrpc", "qqp")
READING_SIZE = 1726
AOA_SIZE = 8005  # AoA surprisals per revision


# -- the zero-shot families ---------------------------------------------------------------
@dataclass(frozen=True)
class Family:
    """One zero-shot key of the submission and where its items come from.

    `full` / `fast`: its data folder under the evaluation data root (None: no fast
    twin); `task`: the classit lm-eval group (its fast twin adds `_fast`); `sizes`: items
    per subtask, or one count for a family whose only subtask is named after the task.
    """

    key: str
    task: str
    full: str
    fast: str | None
    sizes: dict[str, int] | int
    fast_sizes: dict[str, int] | int | None
    gold: str  # what the official scorer compares `pred` with; see leaderboard.items


FAMILIES: dict[str, Family] = {f.key: f for f in (
    Family("blimp", "classit_blimp", "full_eval/blimp_filtered", "fast_eval/blimp_fast",
           BLIMP_SIZES, dict.fromkeys(BLIMP_SIZES, 200), "sentence_good"),
    Family("blimp_supplement", "classit_blimp_supplement", "full_eval/supplement_filtered",
           "fast_eval/supplement_fast", SUPPLEMENT_SIZES, dict.fromkeys(SUPPLEMENT_SIZES, 50),
           "sentence_good"),
    Family("ewok", "classit_ewok", "full_eval/ewok_filtered", "fast_eval/ewok_fast",
           EWOK_SIZES, dict.fromkeys(EWOK_SIZES, 100), "Target1"),
    Family("entity_tracking", "classit_entity_tracking", "full_eval/entity_tracking",
           "fast_eval/entity_tracking_fast", ENTITY_TRACKING_SIZES,
           ENTITY_TRACKING_FAST_SIZES, "options"),
    Family("wug_adj", "classit_wug_adj", "full_eval/wug_adj_nominalization",
           "fast_eval/wug_adj_nominalization", 200, 200, "ratio"),
    Family("wug_past", "classit_wug_past", "full_eval/wug_past_tense",
           "fast_eval/wug_past_tense", 50, 50, "ratio"),
    Family("comps", "classit_comps", "full_eval/comps", None, COMPS_SIZES, None, "comps"),
    Family("reading", "classit_reading", "full_eval/reading", "fast_eval/reading",
           READING_SIZE, READING_SIZE, "reading"),
)}
FAST_KEYS = ("blimp", "blimp_supplement", "ewok", "entity_tracking", "wug_adj", "wug_past",
             "reading")
GLUE_KEY, AOA_KEY, FAST_RESULTS_KEY = "glue", "aoa", "fast_eval_results"
SUBMISSION_KEYS = (*FAMILIES, GLUE_KEY, AOA_KEY, FAST_RESULTS_KEY)
# What a run of this package can mark as missing in an exported file (never official).
INCOMPLETE_KEY = "classit_incomplete"

# The single subtask key of a WUG family, and the older pipeline's name for it (the
# reference outputs of 2025's first releases use the data file's name).
WUG_FILES = {"wug_adj": "wug_adj_nominalization", "wug_past": "wug_past_tense"}


def fast_task(family: Family) -> str:
    """The lm-eval group of a family's fast twin: `classit_blimp_fast`."""
    from classit_eval.names import FAST_SUFFIX

    return family.task + FAST_SUFFIX


def expected_sizes(family: Family, fast: bool) -> dict[str, int]:
    """Items per subtask key; a family with one count has the one key named after it."""
    sizes = family.fast_sizes if fast else family.sizes
    if sizes is None:
        return {}
    return dict(sizes) if isinstance(sizes, dict) else {family.key: sizes}


def fast_score_keys(family: Family) -> set[str]:
    """The keys of one revision's entry in `fast_eval_results[family]`."""
    if family.key == "reading":
        return {"spr", "rt"}
    return set(expected_sizes(family, fast=True))
