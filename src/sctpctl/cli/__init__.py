"""The command line: click commands, output formats and exit codes. Nothing below imports it."""
