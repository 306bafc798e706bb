"""Word age of acquisition (AoA), the BabyLM 2025 task over a model's checkpoint series.

`words` reads the CDI words and their contexts, `surprisal` scores every (word, context)
at every checkpoint with the package's scoring engine and writes the official
`surprisal.json`, `fit` fits a sigmoid learning curve per word and reads off its AoA,
`human` reads the children's CDI table and fits their AoA, `plot` draws the curves, and
`cli` is `classit-eval aoa`. docs/aoa.md describes the task and both modes.
"""
