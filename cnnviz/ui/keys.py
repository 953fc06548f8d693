"""Session-state keys of the sidebar's widgets and of what the sidebar remembers for a session."""

from __future__ import annotations

MODEL_KEY = "model_key"
SOURCE_KEY = "image_source"
SAMPLE_KEY = "sample_name"
UPLOAD_KEY = "upload"
CAMERA_KEY = "camera"
CANVAS_KEY = "canvas"
BRUSH_SIZE_KEY = "brush_size"
BRUSH_COLOUR_KEY = "brush_colour"
SELECTION_KEY = "_cnnviz_selection"
FALLBACK_KEY = "_cnnviz_fallback_for"  # the model whose weights failed, while the embedded one stands in
FAILED_KEY = "_cnnviz_failed_downloads"
SESSION_MODELS_KEY = "_cnnviz_session_models"
OWN_MODEL_ERROR_KEY = "_cnnviz_own_model_error"
PICKED_KEY = "_cnnviz_model_picked"  # the visitor picked a model that does not suit the image: it stays picked
