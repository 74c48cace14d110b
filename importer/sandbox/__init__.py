"""A local stand-in for the Minimo and Notifuse contact APIs, with injectable faults.

It imports nothing from the rest of `importer`: it plays the remote services, so it
follows their documented behaviour rather than the importer's convenience.
"""

from .config import SandboxConfig
from .server import SandboxThread, serve

__all__ = ["SandboxConfig", "SandboxThread", "serve"]
