"""Command line: arguments → settings → one library call → printed result and exit code."""

from importer.cli.commands import main
from importer.cli.parser import build_parser

__all__ = ["build_parser", "main"]
