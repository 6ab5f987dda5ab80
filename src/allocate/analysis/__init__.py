"""Analyses on top of the core: what-if sweeps, the frontier, explanations, diagnoses, prices
of rules, robustness, comparisons and equality summaries.

They reuse the core (model, compile, backends, solve, verify); nothing in the core imports them.
Public names are re-exported from `allocate` only.
"""
