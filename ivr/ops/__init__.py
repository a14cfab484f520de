"""Operators' commands: the directory, temporary passwords, calls tail and live."""
