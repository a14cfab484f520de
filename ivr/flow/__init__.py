"""The call flow: one transition table and the pieces it reads; knows no AGI line, no Redis key.

Everything outside (channel, directory, store, limiter, clock) arrives through ``ports``.
"""
