"""Starter mappings (`importer mapping suggest`): a file's headers, and a sample, → TOML text.

The output is for a person to review, not a finished mapping, so every guess shows where it
came from in a comment and nothing is dropped silently: a column that is not mapped is named.
Whatever the headers are, the text parses and binds to them (`parse_mapping` + `bind`), so the
first `--dry-run` with it fails only on the data, never on the mapping itself.
"""

from importer.suggest.choose import suggest_for_file, suggest_for_sample, suggest_mapping

__all__ = ["suggest_for_file", "suggest_for_sample", "suggest_mapping"]
