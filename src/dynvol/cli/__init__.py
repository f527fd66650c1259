"""The command line: click commands, output formatting and exit codes. No logic of its own."""
