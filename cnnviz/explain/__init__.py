"""Explained predictions: class probabilities, class activation maps, captum attributions and their faithfulness."""

EXPLAIN_TABS = ("Explanation", "Compare", "Faithfulness")
"""The views of the Explain page, in order (its ``xtab`` setting takes one of them)."""
