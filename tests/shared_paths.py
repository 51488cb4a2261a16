"""Where the team's shared/ folder (Asterisk traces, spec) is: $AUTODIALER_SHARED_DIR, else beside the checkout
(CI lays a copy there), else the lab's /work/shared."""

from __future__ import annotations

import os
from pathlib import Path


def shared_root() -> Path:
    candidates = [Path(os.environ["AUTODIALER_SHARED_DIR"])] if os.environ.get("AUTODIALER_SHARED_DIR") else []
    candidates += [Path(__file__).resolve().parents[1].parent / "shared", Path("/work/shared")]
    for candidate in candidates:
        if (candidate / "asterisk" / "traces").is_dir():
            return candidate
    raise FileNotFoundError("shared/ with asterisk/traces not found beside the checkout; set AUTODIALER_SHARED_DIR")


SHARED = shared_root()
TRACES = SHARED / "asterisk" / "traces"
