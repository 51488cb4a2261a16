"""AGI command-line argument splitting and quoting, as Asterisk's res_agi does it.

Asterisk reads one command per line and splits it with ``parse_args()`` in ``res/res_agi.c``:

* spaces and tabs separate arguments, unless inside double quotes or escaped;
* a double quote toggles quoting and is never copied; a quote opening right after whitespace starts an
  argument, so ``""`` is an empty argument;
* a backslash escapes the next character (``\\"``, ``\\\\``, ``\\ ``); the backslash itself is dropped,
  also before ordinary characters (``\\a`` gives ``a``); a trailing lone backslash is dropped;
* quotes may sit inside a word: ``a"b c"d`` is the single argument ``ab cd``;
* at most ``MAX_ARGS - 1`` (127) arguments are kept; the rest of the line is silently dropped.

:func:`split_arguments` reproduces that byte for byte (on the decoded text), so the simulator can act as an
oracle of what Asterisk would have understood. :func:`join_arguments` is its inverse: it quotes only what
needs quoting, so ``split_arguments(join_arguments(argv)) == argv`` for every argv it accepts. CR, LF and
NUL can never be carried by an AGI line, so they are refused.
"""

from __future__ import annotations

import string

from autodialer.protocols.agi.errors import AGIProtocolError

# res_agi.c: #define MAX_ARGS 128, and parse_args() stops at MAX_ARGS - 1 to keep room for the NULL.
MAX_ARGS = 128
MAX_KEPT_ARGS = MAX_ARGS - 1

# Characters written bare. Anything else (space, tab, quote, backslash, '*', '#', non-ASCII, ...) makes the
# argument quoted. Quoting is always accepted by Asterisk, so a conservative set costs nothing; it also
# matches how the lab trace writes escape digits: STREAM FILE dialer-prompt "0123456789*#".
_BARE_CHARS = frozenset(string.ascii_letters + string.digits + "_-./,:;@${}()=+%")
_FORBIDDEN = ("\r", "\n", "\x00")


def split_arguments(line: str) -> tuple[str, ...]:
    """Split one AGI command line (without its newline) exactly like Asterisk's ``parse_args()``.

    Edge cases: an empty or all-blank line gives ``()``; unbalanced quotes simply run to the end of the line;
    a ``\\r`` is an ordinary character (Asterisk strips only the ``\\n``).
    """
    argv: list[list[str]] = []
    quoted = escaped = False
    whitespace = True
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace and len(argv) < MAX_KEPT_ARGS:
                argv.append([])
                whitespace = False
            continue
        if ch in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        # "normal:" in parse_args(): a literal character, possibly starting a new argument.
        escaped = False
        if whitespace:
            if len(argv) >= MAX_KEPT_ARGS:
                continue  # Asterisk logs "Too many arguments, truncating" and drops the character.
            argv.append([])
            whitespace = False
        argv[-1].append(ch)
    return tuple("".join(chars) for chars in argv)


def quote_argument(arg: str) -> str:
    """Return ``arg`` as written on an AGI line: bare when safe, else double-quoted with ``\\``-escapes.

    The empty string becomes ``""``. Raises :class:`AGIProtocolError` for CR, LF or NUL.
    """
    refuse_line_breaks(arg)
    if arg and all(ch in _BARE_CHARS for ch in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def join_arguments(argv: tuple[str, ...] | list[str]) -> str:
    """Build one AGI line (without newline) that Asterisk splits back into exactly ``argv``."""
    if not argv:
        raise AGIProtocolError("an AGI command needs at least one word")
    if len(argv) > MAX_KEPT_ARGS:
        raise AGIProtocolError(f"Asterisk keeps at most {MAX_KEPT_ARGS} arguments, got {len(argv)}")
    return " ".join(quote_argument(arg) for arg in argv)


def command_words(name: str) -> tuple[str, ...]:
    """Split a command name such as ``"STREAM FILE"`` into its words, refusing anything that needs quoting."""
    words = tuple(name.split(" "))
    if not name or any(not word or not all(ch in _BARE_CHARS for ch in word) for word in words):
        raise AGIProtocolError(f"not an AGI command name: {name!r}")
    return words


def refuse_line_breaks(text: str) -> None:
    for bad in _FORBIDDEN:
        if bad in text:
            raise AGIProtocolError(f"{bad!r} cannot be sent on an AGI line: {text!r}")
