"""enable, disable and status: turning SCTP on across node pools and reporting its state."""
