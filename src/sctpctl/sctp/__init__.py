"""The sans-IO SCTP protocol core (RFC 9260): wire codec and association state machine.

No asyncio, no sockets, no clocks, no ambient randomness: time comes in as ``now`` arguments and
randomness through the configuration, so every test is reproducible byte for byte.
"""
