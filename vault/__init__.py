"""talkvault: a private, local, encrypted vault for chat history (the library; CLI, shell and watcher sit on it).

    import vault
    with vault.open(path, passphrase=...) as v:
        v.import_path("export.zip", tz="Europe/Berlin")
        for hit in v.search("from:Mei 警察", limit=20): ...

Names are imported lazily so that `talkvault --help` and the importers stay fast to load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from vault.core import Vault, create, open
    from vault.store.keys import KdfParams

__all__ = ["KdfParams", "Vault", "__version__", "create", "open"]


def __getattr__(name: str) -> Any:
    if name in ("Vault", "create", "open"):
        from vault import core

        return getattr(core, name)
    if name == "KdfParams":
        from vault.store.keys import KdfParams

        return KdfParams
    raise AttributeError(f"module 'vault' has no attribute {name!r}")
