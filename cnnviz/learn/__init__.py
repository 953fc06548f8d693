"""The Learn section: classic image filters and detectors beside what a CNN learns."""
