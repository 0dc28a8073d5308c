"""The NetworkPolicy engine: Kubernetes semantics as pure functions (verdicts, truth tables)."""
