"""Write the published BabyLM 2025 baseline scores as lm-eval results files.

    python scripts/make_leaderboard_baselines.py [--out leaderboards/babylm-2025]

Source: the baseline tables of the official pipeline's README
(github babylm/evaluation-pipeline-2025, README.md at commit 19993f9, 2025-05-08,
"Updated results"; commit 4be13d5 hid them in an HTML comment "until fully ready", where
they still are at bf55c11, 2025-08-17). Transcribed below as published; blank cells are left
out. Each model becomes `<out>/<table>/<model>_<table>/results_baseline.json` in the
schema classit-zscore reads, with the scale of this package's tasks: accuracies as
fractions (the tables print percentages), reading scores as normalised delta-R2 x100 (as
the tables and `classit_reading` both do).

The WUG column of these tables is an accuracy (the metric before the organisers moved to
Spearman's rho), so it is stored as the task `babylm2025_wugs_accuracy` (`acc`), apart from
`classit_wug_adj` (`spearman`). GLUE and the macro averages were left blank for the text tracks.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from classit_eval.families import FAMILIES, GLUE

SOURCE = {
    "repository": "https://github.com/babylm/evaluation-pipeline-2025",
    "file": "README.md",
    "commit": "19993f9f5ab068c4bee986a1771a1680c7485d47",
    "url": "https://github.com/babylm/evaluation-pipeline-2025/blob/"
           "19993f9f5ab068c4bee986a1771a1680c7485d47/README.md#baselines",
    "note": "hidden in an HTML comment since commit 4be13d5 ('Removed the baseline results "
            "until fully ready'); still there at bf55c11 (2025-08-17)",
}
DATE = datetime.datetime(2025, 5, 8, tzinfo=datetime.timezone.utc).timestamp()

# Columns of the main tables: BLiMP, BLiMP Supplement, EWoK, Reading (Eye Tracking),
# Reading (Self-Paced Reading Time), Entity Tracking, WUGs (accuracy); None: blank.
MAIN = ("blimp", "supplement", "ewok", "eye_tracking", "self_paced", "entity_tracking", "wug")
TABLES: dict[str, dict[str, tuple]] = {
    "strict-small-causal": {
        "GPT-BERT (Causal-focus)": (71.66, 63.21, 49.49, 9.89, 3.45, 33.96, 43.00),
        "GPT-BERT (Mixed)": (69.62, 61.56, 50.23, 9.50, 3.37, 22.27, 45.00),
        "GPT-BERT (Masked-focus)": (65.22, 59.49, 49.47, 9.52, 3.44, 30.60, 68.00),
        "GPT-2 Small": (67.29, 59.09, 49.80, 0.13, 0.04, 18.92, 39.00),
    },
    "strict-small-mntp": {
        "GPT-BERT (Causal-focus)": (69.07, 64.33, 49.62, 9.47, 3.48, 39.17, 43.00),
        "GPT-BERT (Mixed)": (71.29, 63.30, 49.93, 9.78, 3.33, 39.95, 16.00),
        "GPT-BERT (Masked-focus)": (70.36, 63.71, 49.95, 9.40, 3.37, 40.02, 57.5),
    },
    "strict-causal": {
        "GPT-BERT (Causal-focus)": (79.29, 70.42, 52.32, 8.36, 3.02, None, 43.5),
        "GPT-BERT (Mixed)": (78.37, 69.23, 51.79, 8.74, 3.59, None, 39.5),
        "GPT-BERT (Masked-focus)": (74.56, 63.63, 51.57, 8.80, 3.30, None, 59.00),
        "GPT-2 Small": (75.07, 64.96, 51.22, 0.47, 0.06, 30.11, 42.5),
    },
    "strict-mntp": {
        "GPT-BERT (Causal-focus)": (None, None, None, 9.08, 3.12, None, 37.5),
        "GPT-BERT (Mixed)": (None, None, None, 9.15, 3.43, None, 37.00),
        "GPT-BERT (Masked-focus)": (None, None, None, 9.34, 3.34, None, 55.00),
    },
    "interaction": {
        "Preference Optimization": (71.91, 64.85, 52.44, 0.5, 0.01, 27.71, 38.5),
    },
}
# The multimodal track's detailed tables (GLUE as the 7-task table of commit ad12542 has it)
MULTIMODAL = {
    "Flamingo": {
        "glue": {"boolq": 69.1, "mnli": 75.8, "mrpc": 84.2, "multirc": 60.5, "qqp": 85.1,
                 "rte": 60.4, "wsc": 42.3},
        "supplement": {"hypernym": 48.8, "qa_congruence_easy": 75.0,
                       "qa_congruence_tricky": 43.6, "subject_aux_inversion": 86.2,
                       "turn_taking": 71.4, "": 65.0},
        "ewok": (50.8, 61.0, 55.3, 53.3, 50.9, 50.1, 52.5, 54.4, 49.4, 49.6, 52.2, 52.7),
    },
    "GIT": {
        "glue": {"boolq": 67.0, "mnli": 75.2, "mrpc": 82.2, "multirc": 58.6, "qqp": 84.7,
                 "rte": 62.6, "wsc": 45.3},
        "supplement": {"hypernym": 48.9, "qa_congruence_easy": 67.2,
                       "qa_congruence_tricky": 49.7, "subject_aux_inversion": 86.6,
                       "turn_taking": 61.1, "": 62.7},
        "ewok": (51.0, 61.9, 51.2, 54.2, 50.2, 49.9, 52.5, 51.4, 52.4, 50.2, 51.6, 52.4),
    },
}
EWOK_DOMAINS = ("agent_properties", "material_dynamics", "material_properties",
                "physical_dynamics", "physical_interactions", "physical_relations",
                "quantitative_properties", "social_interactions", "social_properties",
                "social_relations", "spatial_relations", "")
# The tables' WUG accuracy: not this package's classit_wug_adj (Spearman's rho), so under a
# task name of its own, which classit-zscore leaves out unless asked (--metric).
WUG_ACCURACY = "babylm2025_wugs_accuracy"


def acc(value: float) -> dict:
    return {"acc,none": round(value / 100, 6)}


def main_results(row: tuple) -> dict:
    values = dict(zip(MAIN, row, strict=True))
    out = {}
    for key, task in (("blimp", FAMILIES["blimp"].task),
                      ("supplement", FAMILIES["blimp_supplement"].task),
                      ("ewok", FAMILIES["ewok"].task),
                      ("entity_tracking", FAMILIES["entity_tracking"].task),
                      ("wug", WUG_ACCURACY)):
        if values[key] is not None:
            out[task] = acc(values[key])
    if values["eye_tracking"] is not None:
        out["classit_reading"] = {"eye_tracking,none": values["eye_tracking"],
                                  "self_paced_reading,none": values["self_paced"]}
    return out


def multimodal_results(tables: dict) -> dict:
    out = {}
    for task, value in tables["glue"].items():
        out[GLUE[task].task] = {f"{GLUE[task].metrics[0]},none": round(value / 100, 6)}
    for name, value in tables["supplement"].items():
        out["classit_blimp_supplement" + (f"_{name}" if name else "")] = acc(value)
    for name, value in zip(EWOK_DOMAINS, tables["ewok"], strict=True):
        out["classit_ewok" + (f"_{name}" if name else "")] = acc(value)
    return out


def folder_name(model: str) -> str:
    return model.lower().replace(" (", "-").replace(")", "").replace(" ", "-")


def document(model: str, track: str, results: dict) -> dict:
    return {
        "results": results,
        "model_name": model,
        "config": {"model": "published", "model_args": f"baseline={folder_name(model)}_{track}",
                   "limit": None},
        "date": DATE,
        "classit_source": {**SOURCE, "track": track, "table_row": model},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("leaderboards/babylm-2025"))
    args = p.parse_args()
    written = []
    tracks = {track: {m: main_results(row) for m, row in rows.items()}
              for track, rows in TABLES.items()}
    tracks["multimodal"] = {m: multimodal_results(t) for m, t in MULTIMODAL.items()}
    for track, models in tracks.items():
        for model, results in models.items():
            name = f"{folder_name(model)}_{track}"  # unique across tables for --reference
            path = args.out / track / name / "results_baseline.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document(model, track, results), indent=2) + "\n")
            written.append(path)
    print(f"wrote {len(written)} files under {args.out}")


if __name__ == "__main__":
    main()
