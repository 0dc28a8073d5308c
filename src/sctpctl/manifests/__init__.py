"""Kubernetes YAML: loading with positions, lint rules for SCTP, rendering of sample objects."""
