"""Inside a trained CNN: its architecture, its layers' outputs, what a channel responds to, and pictures of them."""

NETWORK_TABS = ("Architecture", "Filters", "Feature maps", "Overview", "What a channel likes")
"""The views of the Inside the network page, in order (its ``tab`` setting takes one of them)."""
