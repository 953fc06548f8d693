"""Class probabilities of a loaded model for an image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from cnnviz.models.registry import LoadedModel


@dataclass(frozen=True)
class Prediction:
    """Class names and their probabilities, most likely first."""

    classes: tuple[str, ...]
    probabilities: np.ndarray  # float64, same order as classes, summing to 1 over all classes

    def top(self, k: int) -> Prediction:
        """The ``k`` most likely classes."""
        return Prediction(self.classes[:k], self.probabilities[:k])


def predict(model: LoadedModel, image: Image.Image) -> Prediction:
    """Softmax probabilities of every class for ``image``, sorted from most to least likely.

    Holds the model's lock, so it never runs while another caller has hooks registered on it.
    """
    x = model.preprocess(image)
    with model.lock, torch.inference_mode():
        logits = model.module(x)[0]
    probs = torch.softmax(logits.double(), dim=0).numpy()
    order = np.argsort(-probs, kind="stable")
    return Prediction(tuple(model.classes[i] for i in order), probs[order])
