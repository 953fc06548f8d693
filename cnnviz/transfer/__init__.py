"""Transfer learning: a new head for a pretrained backbone, trained on a few images of the user's own classes."""
