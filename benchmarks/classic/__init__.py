"""Capacity benchmark (c): the dial-in as one pyst2 AGI process per call (issue 11)."""
