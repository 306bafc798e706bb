"""The task families, declared once: their names, data, primary metrics and official counts.

A family is one key of a BabyLM 2025 submission (`blimp`, ..., `aoa`, and each (Super)GLUE
task): the classit task whose results carry it, where its data lives under the evaluation
data root, the metric(s) `classit-zscore` compares (every one "higher is better"), and how
many items the official data has. The task-config generator (`tasks/_generate_configs.py`),
the leaderboard's run, export and check, the z-score registry and the fine-tuning task
list all read this table, so a family is added or renamed here and nowhere else.

The counts are restated from the official pipeline (github
babylm/evaluation-pipeline-2025, `evaluation_pipeline/collate_preds.py`,
`sentence_zero_shot/read_files.py`), which asserts them when it collates a submission.
"""

from __future__ import annotations

from dataclasses import dataclass

from classit_eval.names import FAST_SUFFIX, READING_SCORES, finetune_task

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
              "rte": 139, "wsc": 52}  # validation items
READING_SIZE = 1726
AOA_SIZE = 8005  # AoA surprisals per revision

# -- the table ------------------------------------------------------------------------------
ZERO_SHOT = "zero_shot"  # an lm-eval task of tasks/
FINETUNE = "finetune"  # a (Super)GLUE task of `classit-eval finetune`
SERIES = "series"  # a task over a checkpoint series (AoA, `classit-eval aoa`)

GLUE_FOLDER = "full_eval/glue_filtered"  # <task>.train.jsonl and <task>.valid.jsonl


@dataclass(frozen=True)
class Family:
    """One submission key and the classit task that produces it.

    `task`: the classit task (an lm-eval group for the zero-shot families), whose `_fast`
    twin reads `fast`; `metrics`: its primary metric(s) in the results file, each a
    column of `classit-zscore`, higher is better; `full` / `fast`: its data folder under
    the evaluation data root (AoA: its words file; None: no fast twin); `sizes`: items per
    subtask, or one count for a family whose only subtask is named after its key (GLUE:
    the validation set; AoA: surprisals per revision); `per_file`: the generator writes
    one task YAML per data file into tasks/<key>/; `suite`: a member of the
    `classit_zero_shot` suite (and of its fast twin when it has one); `labels`: the label
    count of a GLUE task.
    """

    key: str
    task: str
    metrics: tuple[str, ...]
    full: str
    fast: str | None
    sizes: dict[str, int] | int
    fast_sizes: dict[str, int] | int | None = None
    kind: str = ZERO_SHOT
    per_file: bool = False
    suite: bool = False
    labels: int = 0


def _glue(key: str, metric: str = "acc", labels: int = 2) -> Family:
    return Family(key, finetune_task(key), (metric,), GLUE_FOLDER, None, GLUE_SIZES[key],
                  kind=FINETUNE, labels=labels)


TABLE: tuple[Family, ...] = (
    Family("blimp", "classit_blimp", ("acc",), "full_eval/blimp_filtered",
           "fast_eval/blimp_fast", BLIMP_SIZES, dict.fromkeys(BLIMP_SIZES, 200),
           per_file=True, suite=True),
    Family("blimp_supplement", "classit_blimp_supplement", ("acc",),
           "full_eval/supplement_filtered", "fast_eval/supplement_fast", SUPPLEMENT_SIZES,
           dict.fromkeys(SUPPLEMENT_SIZES, 50), per_file=True, suite=True),
    Family("ewok", "classit_ewok", ("acc",), "full_eval/ewok_filtered", "fast_eval/ewok_fast",
           EWOK_SIZES, dict.fromkeys(EWOK_SIZES, 100), per_file=True, suite=True),
    Family("entity_tracking", "classit_entity_tracking", ("acc",), "full_eval/entity_tracking",
           "fast_eval/entity_tracking_fast", ENTITY_TRACKING_SIZES, ENTITY_TRACKING_FAST_SIZES,
           per_file=True, suite=True),
    Family("wug_adj", "classit_wug_adj", ("spearman",), "full_eval/wug_adj_nominalization",
           "fast_eval/wug_adj_nominalization", 200, 200, suite=True),
    # not in the suite: its data is not part of every copy of the evaluation data
    Family("wug_past", "classit_wug_past", ("spearman",), "full_eval/wug_past_tense",
           "fast_eval/wug_past_tense", 50, 50),
    Family("comps", "classit_comps", ("acc",), "full_eval/comps", None, COMPS_SIZES,
           suite=True),
    Family("reading", "classit_reading", READING_SCORES, "full_eval/reading",
           "fast_eval/reading", READING_SIZE, READING_SIZE, suite=True),
    Family("aoa", "classit_aoa", ("pearson",), "full_eval/aoa/cdi_childes.json", None,
           AOA_SIZE, kind=SERIES),
    _glue("boolq"), _glue("mnli", labels=3), _glue("mrpc", "f1"), _glue("multirc"),
    _glue("qqp", "f1"), _glue("rte"), _glue("wsc"),
)

# The zero-shot families (lm-eval tasks of tasks/), by key, in submission order.
FAMILIES: dict[str, Family] = {f.key: f for f in TABLE if f.kind == ZERO_SHOT}
FAST_KEYS = tuple(key for key, family in FAMILIES.items() if family.fast)
# The (Super)GLUE tasks, by key (`boolq`), in the organisers' (alphabetical) order.
GLUE: dict[str, Family] = {f.key: f for f in TABLE if f.kind == FINETUNE}
AOA = next(f for f in TABLE if f.kind == SERIES)


def fast_task(family: Family) -> str:
    """The classit task of a family's fast twin: `classit_blimp_fast`."""
    return family.task + FAST_SUFFIX


def expected_sizes(family: Family, fast: bool) -> dict[str, int]:
    """Items per subtask key; a family with one count has the one key named after it."""
    sizes = family.fast_sizes if fast else family.sizes
    if sizes is None:
        return {}
    return dict(sizes) if isinstance(sizes, dict) else {family.key: sizes}
