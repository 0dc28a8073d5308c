"""The lab: a bare-metal cluster on one machine (API server, store, controllers), in namespaces."""
