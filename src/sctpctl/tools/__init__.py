"""listen, connect, probe and perf: the logic behind the network tools, without the CLI."""
