"""Home: what cnnviz offers, the current model's card, and a quick prediction for the chosen image."""

import streamlit as st

from cnnviz.explain.caveats import prediction_caveat
from cnnviz.explain.charts import probability_bars
from cnnviz.text import md
from cnnviz.ui.navigation import page_cards
from cnnviz.ui.selection import selection

choice = selection()
model, card = choice.model, choice.model.card

st.title("cnnviz")
st.markdown(
    "See how convolutional neural networks work: choose a **model** and an **image** in the sidebar "
    "(a sample, your own upload or a camera photo); the choice follows you across pages. "
    "The embedded TinyVGG was trained by this project on synthetic shapes and textures and always works "
    "offline; torchvision's ImageNet classifiers download their pretrained weights on first use."
)
page_cards()

st.header("Model card")
facts = st.container(horizontal=True, gap="large")  # side by side, wrapping when narrow: no value is cut
facts.metric("Architecture", card.architecture, width="content")
facts.metric("Parameters", f"{card.num_params:,}", width="content")
facts.metric("Input size", f"{card.input_size[0]}×{card.input_size[1]}", width="content")
facts.metric(
    "Top-1 accuracy",
    "n/a" if card.accuracy is None else f"{card.accuracy:.1%}",
    help=card.accuracy_note,
    width="content",
)
st.markdown(md(card.description))
layers = ", ".join(f"{n} {kind}" for kind, n in card.layers.items() if n)
st.caption(f"Layers: {layers}. Accuracy: {md(card.accuracy_note)}.")
with st.expander(f"{len(card.classes)} classes"):
    st.markdown(md(", ".join(card.classes)))

st.header("Quick try")
if choice.image is None:
    st.info("Choose an image in the sidebar to see the model's prediction.")
else:
    k = min(10, len(card.classes))
    prediction = choice.prediction()
    left, right = st.columns([1, 2])
    left.image(choice.image, caption=md(choice.image_name), width="stretch")
    right.plotly_chart(probability_bars(prediction.top(k), f"Top {k} of {len(card.classes)} classes"), key="probs")
    right.markdown(f"**Prediction: {md(prediction.classes[0])}** ({prediction.probabilities[0]:.1%})")
    if caveat := prediction_caveat(model, prediction, choice.image_name):
        right.warning(md(caveat), icon=":material/help:")
