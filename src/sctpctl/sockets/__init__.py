"""One asyncio API for SCTP applications over three backends: kernel, host stack, in-process."""
