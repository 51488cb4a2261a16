"""The one static dialplan snippet (plain Asterisk and MikoPBX) and the AMI user, shipped with the package.

docs/dialplan.md explains them step by step; ``autodialer dialplan`` prints them with the FastAGI host filled in;
the demo and the end-to-end tests run the PBX simulator on exactly these contexts.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

Flavour = Literal["asterisk", "mikopbx", "manager"]

_FILES: dict[str, str] = {
    "asterisk": "extensions_autodialer.conf",
    "mikopbx": "extensions_autodialer_mikopbx.conf",
    "manager": "manager_autodialer.conf",
}


def snippet(flavour: Flavour = "asterisk", agi_host: str = "127.0.0.1", agi_port: int = 4573) -> str:
    """The snippet's text, with the FastAGI address Asterisk should connect to."""
    text = resources.files(__name__).joinpath(_FILES[flavour]).read_text(encoding="utf-8")
    return text.replace("agi://127.0.0.1:4573/", f"agi://{agi_host}:{agi_port}/")
