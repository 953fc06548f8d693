"""When a prediction should not be read at face value: a model must pick one of its classes for any image."""

from __future__ import annotations

from cnnviz.explain.predict import Prediction
from cnnviz.models.registry import LoadedModel

UNSURE = 0.3
"""Top probability under which an ImageNet model's answer is called unsure."""


def prediction_caveat(model: LoadedModel, prediction: Prediction, image_name: str | None) -> str | None:
    """A warning to show beside ``prediction`` when it cannot mean what it seems, else None.

    ``image_name`` is the sidebar's name for the image (``"synthetic: …"`` for the shipped synthetic samples).
    """
    top, p = prediction.classes[0], float(prediction.probabilities[0])
    classes = model.classes
    listed = ", ".join(classes) if len(classes) <= 12 else f"{', '.join(classes[:12])}, …"
    if model.spec.source == "embedded" and not (image_name or "").startswith("synthetic:"):
        return (
            f"{model.card.architecture} has only seen synthetic drawings of {len(classes)} kinds of shape "
            f"({listed}); it must answer with one of them whatever the picture. Here '{top}' at {p:.1%} says how "
            "the picture's patterns resemble those drawings, not what it shows. Try a synthetic sample, or "
            "EfficientNet-Lite0 (ImageNet, ships with the app) for photos."
        )
    if model.spec.for_photos and (image_name or "").startswith("synthetic:"):
        return (
            f"{model.card.architecture} learnt {len(classes)} classes of real photos (ImageNet); a synthetic drawing "
            f"of a shape is none of them. Here '{top}' at {p:.1%} is the nearest it knows, not what the picture "
            "shows. TinyVGG was trained on these drawings."
        )
    if model.spec.source == "session":
        return (
            f"This model knows only its {len(classes)} classes ({listed}) and answers with one of them for any "
            "picture; a high probability is only as meaningful as the picture is like its training images."
        )
    if p < UNSURE:
        return (
            f"The model is unsure: its best guess, '{top}', has {p:.1%}. The picture may show something outside "
            f"its {len(classes)} classes, or several things at once."
        )
    return None
