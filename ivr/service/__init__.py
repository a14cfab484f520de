"""The running FastAGI service: serve, call handlers, admission, metrics, /healthz, log sink."""
