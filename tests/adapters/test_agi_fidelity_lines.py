"""Command lines as long as res_agi reads them as one command.

run_agi() reads a command with ``fgets(buf, AGI_BUF_LEN)`` (2048) until a newline or a full buffer: 2047 bytes with
the newline are one command, and what follows in a longer line is read and answered as a second command (res_agi.c,
``#define AGI_BUF_LEN 2048`` and the ``while (len > 1)`` fgets loop). A longer command is refused before it is sent.
"""

from __future__ import annotations

import pytest

from autodialer.protocols.agi import AGIConnection, AGIProtocolError, Command, Role
from autodialer.protocols.agi.command import MAX_COMMAND_BYTES


def _stream_file_of_length(total: int) -> Command:
    prefix = 'STREAM FILE  ""'
    return Command.build("STREAM FILE", "x" * (total - len(prefix)), "")


def test_the_longest_command_asterisk_reads_whole_is_sent() -> None:
    command = _stream_file_of_length(2046)
    data = AGIConnection(Role.SERVER).send(command)
    assert len(data) == 2047 == MAX_COMMAND_BYTES + 1 and data.endswith(b'""\n')


def test_a_longer_command_is_refused_instead_of_being_split_by_asterisk() -> None:
    conn = AGIConnection(Role.SERVER)
    with pytest.raises(AGIProtocolError, match="2047 bytes"):
        conn.send(_stream_file_of_length(2047))
    assert conn.unanswered == 0  # nothing was sent, so no result is awaited
    with pytest.raises(AGIProtocolError):
        Command.build("SET VARIABLE", "X", "é" * 1100).encode()  # counted in bytes, not characters
