"""The FastAGI environment block: ``agi_key: value`` lines ended by an empty line.

Asterisk writes every variable as ``"%s: %s\\n"`` (so an empty value is ``agi_accountcode: `` with a trailing
space), then ``agi_arg_1`` .. ``agi_arg_N``, then ``\\n``. The arguments are taken out of ``variables`` into
``args`` in numeric order; the other keys are kept verbatim, ``agi_`` prefix included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from autodialer.protocols.agi.arguments import refuse_line_breaks
from autodialer.protocols.agi.errors import AGIProtocolError

_ARG_KEY = re.compile(r"agi_arg_([1-9][0-9]{0,5})")


@dataclass(frozen=True)
class Environment:
    """The variables Asterisk sent at the start of a FastAGI session (``agi_*`` without the args)."""

    variables: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()

    def get(self, key: str, default: str = "") -> str:
        """Look a variable up with or without its ``agi_`` prefix: ``env.get("uniqueid")``."""
        if key in self.variables:
            return self.variables[key]
        return self.variables.get("agi_" + key, default)

    @property
    def script(self) -> str:
        """The requested script as a path without query string: ``/connect`` for ``agi://host/connect?x=1``.

        Uses ``agi_network_script`` and falls back to the path of ``agi_request``; ``""`` when neither is set.
        """
        script = self.variables.get("agi_network_script")
        if script is None:
            request = self.variables.get("agi_request", "")
            script = urlsplit(request).path if "://" in request else request
        script = script.split("?", 1)[0].strip("/")
        return "/" + script if script else ""

    @property
    def channel(self) -> str:
        return self.variables.get("agi_channel", "")

    @property
    def uniqueid(self) -> str:
        return self.variables.get("agi_uniqueid", "")

    def encode(self) -> bytes:
        """The block as Asterisk writes it. Raises AGIProtocolError for keys or values AGI cannot carry."""
        lines = []
        for key, value in self.variables.items():
            if not key or ":" in key or " " in key or _ARG_KEY.fullmatch(key):
                raise AGIProtocolError(f"bad environment key {key!r}")
            refuse_line_breaks(key)
            refuse_line_breaks(value)
            lines.append(f"{key}: {value}\n")
        for number, value in enumerate(self.args, start=1):
            refuse_line_breaks(value)
            lines.append(f"agi_arg_{number}: {value}\n")
        return ("".join(lines) + "\n").encode("utf-8", "surrogateescape")


class EnvironmentBuilder:
    """Collects environment lines until the blank one; bounded so a peer cannot grow it forever."""

    def __init__(self, max_lines: int) -> None:
        self._variables: dict[str, str] = {}
        self._args: dict[int, str] = {}
        self._lines = 0
        self._max_lines = max_lines

    def add_line(self, line: str) -> None:
        self._lines += 1
        if self._lines > self._max_lines:
            raise AGIProtocolError(f"environment longer than {self._max_lines} lines")
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            raise AGIProtocolError(f"not an environment line: {line[:80]!r}")
        # Asterisk always writes ": "; a missing space is tolerated rather than mangling the value.
        value = value[1:] if value.startswith(" ") else value
        arg = _ARG_KEY.fullmatch(key)
        if arg:
            self._args[int(arg.group(1))] = value
        else:
            self._variables[key] = value

    def build(self) -> Environment:
        return Environment(
            variables=dict(self._variables),
            args=tuple(self._args[n] for n in sorted(self._args)),
        )
