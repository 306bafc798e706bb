"""The classit lm-eval task configs, installed as the package `lm_eval.tasks.classit`.

This file makes the folder a regular package, so that the `lm_eval.tasks` entry point
(`classit = "lm_eval.tasks.classit"`) resolves to the folder that holds the YAMLs.
"""
