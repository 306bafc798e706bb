"""The lm-eval side of the package: the `classit` model backend, its scoring engine, how
lm-eval finds the task configs, and `classit-eval run`.

Nothing here imports a task: a task asks for a scoring encoding by name (see
`scoring.ENCODINGS`) and the backend looks it up in the scoring layer.
"""
