"""Running external tools (ffprobe, ffmpeg, sox, espeak-ng) safely.

Invariant: a command is an argument list executed directly (``create_subprocess_exec``), never a shell string, so no
request data can be interpreted by a shell; text goes in on stdin, not as an argument. Each run has a timeout after
which the process is killed, so a stuck tool cannot hold a request forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: bytes
    stderr: bytes


class CommandTimedOut(Exception):
    error_id = "command-timed-out"


class CommandRunner(Protocol):
    async def run(self, argv: Sequence[str], *, stdin: bytes | None = None, timeout_s: float = 60) -> CommandResult:
        """Run ``argv`` to completion; raises CommandTimedOut (after killing it) or FileNotFoundError."""
        ...


class SubprocessRunner:
    async def run(self, argv: Sequence[str], *, stdin: bytes | None = None, timeout_s: float = 60) -> CommandResult:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(stdin), timeout_s)
        except TimeoutError as e:
            process.kill()
            await process.wait()
            raise CommandTimedOut(f"{argv[0]}: no result after {timeout_s} s") from e
        return CommandResult(process.returncode if process.returncode is not None else -1, stdout, stderr)
