"""Streamlit helpers for ``app.py`` and the pages: the only part of cnnviz that imports Streamlit.

The sidebar's choice of model and image is made once per script run by :func:`selection.sidebar` and read by
the pages through :func:`selection.selection`; widget keys keep the choice for the whole session, across pages.
"""
