"""cnnviz: make convolutional neural networks visible. Run with ``streamlit run app.py``."""

from pathlib import Path

import streamlit as st

from cnnviz.server.memory import keep_freed_memory
from cnnviz.ui.links import check_link
from cnnviz.ui.selection import sidebar

FAVICON = Path(__file__).parent / "assets" / "favicon.png"
keep_freed_memory()  # reuse freed memory for activations instead of page faulting on each pass

st.set_page_config(page_title="cnnviz", page_icon=str(FAVICON), layout="wide")  # served locally: works offline

navigation = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/arithmetic.py", title="Convolution arithmetic", icon=":material/grid_on:"),
        st.Page("pages/network.py", title="Inside the network", icon=":material/layers:"),
        st.Page("pages/explain.py", title="Explain a prediction", icon=":material/center_focus_strong:"),
        st.Page("pages/playground.py", title="Train a CNN", icon=":material/model_training:"),
        st.Page("pages/transfer.py", title="Your own classes", icon=":material/add_photo_alternate:"),
        st.Page("pages/learn.py", title="Learn", icon=":material/school:"),
    ],
)
check_link(navigation.url_path)
sidebar()
navigation.run()
