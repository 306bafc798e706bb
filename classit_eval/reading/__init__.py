"""The BabyLM 2025 reading-time task: word surprisals and their delta-R2 scores."""
