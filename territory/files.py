"""Files the commands write (reports, exports): whole or not at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(out: Path) -> Iterator[Path]:
    """A temporary path beside `out`, renamed over it when the block succeeds and removed if
    it fails, so a reader never sees half a file and a failure leaves no litter. The file gets
    the permissions of any new file (mkstemp's 0600 would hide it from the rest of the team).
    """
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
