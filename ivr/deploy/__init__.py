"""Deployment: processes, the single-node stack, the cluster and its parts."""
