"""What the commands share before any of them runs (so that ``--help`` imports nothing more):
the exit codes and the formats ``check`` prints."""

# 0 success, 1 invalid input (or a watched job that failed), 2 usage error, 3 environment error
# (unreadable file, no cluster)
EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_ENV = 0, 1, 2, 3

FORMATS = ("text", "json", "github", "sarif")
