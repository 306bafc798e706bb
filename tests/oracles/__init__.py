"""Oracles: the official BabyLM 2025 pipeline restated in its own shape (causal and masked
scoring, AoA) or run as it is (the organisers' collator), for the tests, the parity checks in
scripts/ and the benchmarks to compare the package with. Not part of the package."""
