"""The current state of the contacts a run writes (SPEC §8): look-ups one by one or a
workspace listing, what a write would change, and Minimo's custom-field definitions."""

from importer.lookups.compare import changes, contact_of, same, shown
from importer.lookups.contacts import Found, MinimoReader, NotifuseReader, Reader
from importer.lookups.stage import LookupPlan, LookupResult, look_up

__all__ = [
    "Found",
    "LookupPlan",
    "LookupResult",
    "MinimoReader",
    "NotifuseReader",
    "Reader",
    "changes",
    "contact_of",
    "look_up",
    "same",
    "shown",
]
