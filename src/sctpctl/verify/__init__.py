"""The verification runner: a catalogue of checks, their expectations, and the report."""
