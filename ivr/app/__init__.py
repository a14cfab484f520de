"""The composition root: settings, ivrctl, serve, stack: what wires flow, adaptor and libraries."""
