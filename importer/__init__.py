"""importer: load marketing spreadsheets into Minimo and Notifuse, with a per-row report."""

__version__ = "0.1.0"
