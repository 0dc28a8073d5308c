"""The only code that talks to a Kubernetes API: a small client interface and its error types."""
