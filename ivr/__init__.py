"""The dial-in service: its call flow, the AGI adaptor, and the rooms that run it.

- ``ivr.flow``: the call flow (states, entries, caller ID, ports, outcomes); no AGI, no Redis.
- ``ivr.agi_channel``: the flow's Channel port spoken as AGI commands (``agi/``).
- ``ivr.config``: settings, secret files, names; ``ivr.service``: the FastAGI process;
  ``ivr.ops``: operators' commands; ``ivr.deploy``: processes, stack, cluster;
  ``ivr.tools``: load and test tools; ``ivr.cli``: ``ivrctl``'s parser (docs/architecture.md).
"""
