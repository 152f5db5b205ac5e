"""Read members of .tgz / .zip archives by the end of their path."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from ..fileio import decode_utf8


class Archive:
    """Random access to the regular files of a tar or zip archive (a wheel is a zip)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if zipfile.is_zipfile(self.path):
            self._zip = zipfile.ZipFile(self.path)
            self._tar = None
            self.names = [n for n in self._zip.namelist() if not n.endswith("/")]
        else:
            self._zip = None
            self._tar = tarfile.open(self.path)
            self._members = {m.name: m for m in self._tar.getmembers() if m.isfile()}
            self.names = list(self._members)

    def find(self, suffix: str) -> str | None:
        """The member whose path is ``suffix`` or ends with ``/suffix``."""
        hits = [n for n in self.names if n == suffix or n.endswith("/" + suffix)]
        if len(hits) > 1:
            raise ValueError(f"{self.path}: several members end with {suffix}: {hits}")
        return hits[0] if hits else None

    def read_bytes(self, name: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(name)
        return self._tar.extractfile(self._members[name]).read()

    def read_text(self, name: str) -> str:
        return decode_utf8(self.read_bytes(name), f"{self.path} (member {name})")

    def close(self) -> None:
        (self._zip or self._tar).close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
