"""Fixtures of the FastAGI tests (see fake_asterisk.py)."""

from tests.agi.fake_asterisk import make_server  # noqa: F401  (a fixture)
