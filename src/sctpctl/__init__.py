"""sctpctl: enable SCTP on bare-metal Kubernetes and OpenShift clusters, and prove that it works.

The package is layered (see docs/architecture.md): ``cli`` on top; ``verify``; ``enable``, ``lab``
and ``tools``; ``k8s`` and ``host``; ``manifests`` and ``sockets``; and at the bottom the pure
packages ``netpol``, ``node`` and the sans-IO protocol core ``sctp``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
