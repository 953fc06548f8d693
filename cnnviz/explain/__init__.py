"""Explained predictions: class probabilities, class activation maps, captum attributions and their faithfulness."""
