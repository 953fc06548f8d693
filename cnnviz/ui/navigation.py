"""The app's pages in one list: the sidebar's navigation (app.py) and the home page's links both read it."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from cnnviz.learn.lessons import LESSONS


@dataclass(frozen=True)
class PageEntry:
    path: str  # the page's script, relative to app.py
    title: str
    icon: str
    offer: str  # one sentence: what the page shows (Home's link cards)


PAGES = (  # Home first: the default page
    PageEntry("pages/home.py", "Home", ":material/home:", "The model card and a quick prediction."),
    PageEntry(
        "pages/arithmetic.py",
        "Convolution arithmetic",
        ":material/grid_on:",
        "Padding, stride, dilation, transposed convolution and pooling, step by step with the real numbers.",
    ),
    PageEntry(
        "pages/network.py",
        "Inside the network",
        ":material/layers:",
        "Architecture, filters, feature maps and what each channel responds to.",
    ),
    PageEntry(
        "pages/explain.py",
        "Explain a prediction",
        ":material/center_focus_strong:",
        "Grad-CAM and captum attributions over your image.",
    ),
    PageEntry("pages/playground.py", "Train a CNN", ":material/model_training:", "Watch a small network learn, live."),
    PageEntry(
        "pages/transfer.py",
        "Your own classes",
        ":material/add_photo_alternate:",
        "Make classes of your own from photos and teach them to a trained network.",
    ),
    PageEntry(
        "pages/learn.py",
        "Learn",
        ":material/school:",
        f"A guided path in {len(LESSONS)} steps, from image filters and Harris corners to Grad-CAM.",
    ),
)


NAVIGATION_KEY = "_cnnviz_navigation"


def navigation_pages() -> list[st.Page]:
    """The pages for ``st.navigation``; the first is the default. Made once per session and kept in its state:
    ``st.Page`` resolves its script's path on disk (a dozen system calls a page, each letting the other threads
    take over), which was a tenth of a room follower's run. Not shared between sessions: ``st.navigation`` marks
    the page it returns as the one this run may call."""
    pages = st.session_state.get(NAVIGATION_KEY)
    if pages is None:
        pages = [st.Page(p.path, title=p.title, icon=p.icon, default=n == 0) for n, p in enumerate(PAGES)]
        st.session_state[NAVIGATION_KEY] = pages
    return pages


def page_cards(columns: int = 2) -> None:
    """A card per page other than Home (the first): its link (title and icon) and what it offers."""
    grid = st.columns(columns)
    for n, page in enumerate(PAGES[1:]):
        with grid[n % columns].container(border=True):
            st.page_link(page.path, label=f"**{page.title}**", icon=page.icon)
            st.caption(page.offer)


NARROW_SCREEN_PX = 1280
"""Below this width (a 1024×768 projector) the page's side margins shrink from Streamlit's 80 px to 24 px: with the
sidebar open, two columns are then over 300 px wide each (Explain's map beside its raw map, two Compare panels)."""


SHORT_SCREEN_PX = 820
"""Below this height (768 px) the page starts just under the top bar (64 px down, not Streamlit's 96)."""


_CHROME = (
    "section[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'],"
    " [data-testid='stExpandSidebarButton'], header[data-testid='stHeader']"
)
"""The app's frame around a page: the sidebar, its toggle and the top bar."""
PRINT_STYLE = (
    f"@media print {{ @page {{ margin: 12mm; }} {_CHROME}, [data-testid='stToolbar'], [data-testid='stDecoration'],"
    " .st-key-room_bar, .st-key-handout, [data-testid='stButton'], [data-testid='stButtonGroup'],"
    " [data-testid='stDownloadButton'], [data-testid='stPageLink'] {display: none !important;}"
    " [data-testid='stAppViewContainer'], [data-testid='stMain'], .stApp {overflow: visible !important;"
    " height: auto !important; position: static !important;}"
    " [data-testid='stMainBlockContainer'] {max-width: 100% !important; padding: 0 !important;}"
    " [data-testid='stElementContainer'] {break-inside: avoid;} }"
)
"""A page printed (the app menu's Print, or the browser's): the page's content only — no sidebar, top bar, room bar
or buttons — over the paper's whole width and as many sheets as it takes, figures kept whole: a Learn step's
handout."""


HANDOUT_WIDTH_PX = 700
"""A handout's width on screen: A4's printable width (210 mm less 12 mm margins) at 96 px an inch, Letter's a
little more, so the figures are drawn at the width the paper has."""


def handout_style() -> None:
    """A page laid out as the paper of its handout: no sidebar or top bar, the content :data:`HANDOUT_WIDTH_PX`
    wide (figures are drawn at that width, so a print keeps them whole)."""
    st.html(
        f"<style>{_CHROME} {{display: none !important;}} [data-testid='stMainBlockContainer'] "
        f"{{max-width: {HANDOUT_WIDTH_PX}px !important; padding: 1rem 0 !important; margin: 0 auto;}}</style>"
    )


def screen_style() -> None:
    """The app's layout rules beyond Streamlit's own: captions (of text and of images) at 16 px, not 14, for a
    class to read; narrower side margins on narrow screens, a smaller top margin on short ones; and the print
    style (:data:`PRINT_STYLE`)."""
    st.html(
        "<style>[data-testid='stCaptionContainer'], [data-testid='stImageCaption'] {font-size: 1rem;}"
        f"@media (max-width: {NARROW_SCREEN_PX - 1}px) {{ [data-testid='stMainBlockContainer'] "
        "{padding-left: 1.5rem; padding-right: 1.5rem;} }"
        f"@media (max-height: {SHORT_SCREEN_PX - 1}px) {{ [data-testid='stMainBlockContainer'] "
        f"{{padding-top: 4rem;}} }}{PRINT_STYLE}</style>"
    )
