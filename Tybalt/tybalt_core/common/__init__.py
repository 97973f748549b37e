"""Shared by every stage: the user-facing error, command-line wrapper, atomic writes, locks, file checks, run files."""
