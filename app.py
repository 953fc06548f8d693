"""cnnviz: make convolutional neural networks visible. Run with ``streamlit run app.py``."""

import streamlit as st

from cnnviz.assets import FAVICON
from cnnviz.server.logs import configure as configure_logging
from cnnviz.server.memory import keep_freed_memory, limit_arenas, trim_in_background
from cnnviz.ui.links import check_link
from cnnviz.ui.navigation import navigation_pages, screen_style
from cnnviz.ui.rooms import classroom_sidebar, offer_class_question, page_run, practice, room_bar
from cnnviz.ui.runs import collected
from cnnviz.ui.selection import sidebar
from cnnviz.ui.sessions import share_upload_bytes, start_janitor

configure_logging()  # the cnnviz loggers to standard error, at CNNVIZ_LOG_LEVEL (once: later runs add nothing)
limit_arenas()  # two malloc arenas, not one per thread: what a closed tab freed goes back to the system
keep_freed_memory()  # reuse freed memory for activations instead of page faulting on each pass
trim_in_background()  # and give what is left unused back to the system every 20 s (started once)
share_upload_bytes()  # each run's copy of the uploaded files shares their bytes (Streamlit copies them)
start_janitor()  # shut down sessions whose tab closed longer ago than Streamlit keeps them, uploads and all

st.set_page_config(page_title="cnnviz", page_icon=str(FAVICON), layout="wide")  # served locally: works offline
screen_style()  # captions at 16 px; on a projector's 1024 px, narrower margins

with collected():  # however the run ends, its garbage is collected soon (with every other run's of that second)
    navigation = st.navigation(navigation_pages())
    room_bar(navigation.url_path)  # a room's follower is taken to the teacher's view first; a teacher sees the room
    check_link(navigation.url_path)
    offer_class_question(sidebar())
    classroom = classroom_sidebar()
    with page_run(navigation.url_path):  # then a teacher's view is published; a student's view is noted as shown
        navigation.run()
    with classroom:  # Quiz me, once the page has offered its questions
        practice(navigation.url_path)
