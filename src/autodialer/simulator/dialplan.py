"""A small extensions.conf interpreter: contexts, patterns, priorities, hints and ${VAR} substitution.

Supports the subset the lab and our production snippet use: `exten => X,prio,App(args)`, `same => n,...`,
`exten => X,hint,DEV`, numeric and `n` priorities, `[context]` headers, `;` comments. Patterns follow Asterisk:
`_` prefix, X=[0-9], Z=[1-9], N=[2-9], [..] sets, `.` = one or more further characters, `!` = zero or more.
So `_X.` needs at least two digits (trace 13) and `_555XXXX` exactly seven.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LAB_DIALPLAN = """
[internal]
exten => 201,hint,PJSIP/201
exten => 202,hint,PJSIP/202
exten => 201,1,NoOp(internal call to 201)
 same => n,Dial(PJSIP/201,20)
 same => n,Hangup()
exten => 202,1,NoOp(internal call to 202)
 same => n,Dial(PJSIP/202,20)
 same => n,Hangup()
exten => 2200,1,NoOp(queue 2200)
 same => n,Queue(2200,,,,30)
 same => n,Hangup()

[dialer-out]
exten => _555XXXX,1,NoOp(dialer-out ${EXTEN} campaign=${CAMPAIGN_ID} lead=${LEAD_ID})
 same => n,Dial(PJSIP/${EXTEN}@trunk,60)
 same => n,NoOp(dialer-out result DIALSTATUS=${DIALSTATUS} HANGUPCAUSE=${HANGUPCAUSE})
 same => n,Hangup()

[dialer-connect]
exten => _X.,1,NoOp(customer answered, connect to ${EXTEN} mode=${DIALER_MODE})
 same => n,AGI(agi://127.0.0.1:4573/connect,${EXTEN},${DIALER_MODE})
 same => n,NoOp(after AGI AGISTATUS=${AGISTATUS})
 same => n,Hangup()

[dialer-amd]
exten => _X.,1,NoOp(AMD on answered customer)
 same => n,AMD()
 same => n,NoOp(AMDSTATUS=${AMDSTATUS} AMDCAUSE=${AMDCAUSE})
 same => n,UserEvent(DialerAMD,AMDStatus: ${AMDSTATUS},AMDCause: ${AMDCAUSE})
 same => n,Hangup()

[load]
exten => _X.,1,Answer()
 same => n,Hangup()

[load-connect]
exten => _X.,1,Hangup()

[from-trunk]
exten => _X.,1,Hangup(21)
"""


@dataclass(frozen=True)
class Step:
    app: str
    data: str  # unsubstituted


@dataclass
class Extension:
    pattern: str
    steps: dict[int, Step] = field(default_factory=dict)
    hint: str | None = None
    labels: dict[str, int] = field(default_factory=dict)  # n(poll) -> its priority number


@dataclass
class Context:
    name: str
    extensions: dict[str, Extension] = field(default_factory=dict)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    if not pattern.startswith("_"):
        return re.compile(re.escape(pattern) + r"\Z")
    out = []
    i, p = 0, pattern[1:]
    while i < len(p):
        c = p[i]
        if c in "Xx":
            out.append("[0-9]")
        elif c in "Zz":
            out.append("[1-9]")
        elif c in "Nn":
            out.append("[2-9]")
        elif c == "[":
            end = p.index("]", i)
            out.append("[" + p[i + 1 : end] + "]")
            i = end
        elif c == ".":
            out.append(".+")
        elif c == "!":
            out.append(".*")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


class Dialplan:
    def __init__(self, text: str = LAB_DIALPLAN) -> None:
        self.contexts: dict[str, Context] = {}
        self._regex: dict[str, re.Pattern[str]] = {}
        # Derived from the contexts, rebuilt after each load: a context's pattern extensions in order, and the
        # hints of each device (looked up at every device state change).
        self._patterns: dict[str, list[tuple[str, Extension]]] = {}
        self._hints_of: dict[str, list[tuple[str, str]]] | None = None
        self.load(text)

    @classmethod
    def from_file(cls, path: Path) -> Dialplan:
        return cls(path.read_text())

    def load(self, text: str) -> None:
        self._patterns.clear()
        self._hints_of = None
        ctx: Context | None = None
        last: tuple[Extension, int] | None = None
        for raw in text.splitlines():
            line = raw.split(";", 1)[0].strip()
            if not line:
                continue
            if line.startswith("[") and "]" in line:
                name = line[1 : line.index("]")]
                ctx = None if name in ("general", "globals") else self.contexts.setdefault(name, Context(name))
                last = None
                continue
            if ctx is None or "=>" not in line:
                continue
            kind, rest = (s.strip() for s in line.split("=>", 1))
            if kind == "exten":
                pattern, prio, body = (s.strip() for s in rest.split(",", 2))
                ext = ctx.extensions.setdefault(pattern, Extension(pattern))
                self._regex.setdefault(pattern, _pattern_regex(pattern))
            elif kind == "same" and last is not None:
                ext = last[0]
                prio, body = (s.strip() for s in rest.split(",", 1))
            else:
                continue
            if prio == "hint":
                ext.hint = body
                continue
            prio, _, label = prio.partition("(")  # "n(poll)" / "1(start)": a priority label
            number = (last[1] + 1 if last else 1) if prio == "n" else int(prio)
            if label.endswith(")"):
                ext.labels[label[:-1]] = number
            app, _, data = body.partition("(")
            ext.steps[number] = Step(app.strip(), data[:-1] if data.endswith(")") else data)
            last = (ext, number)

    def find(self, context: str, exten: str) -> Extension | None:
        """The extension `exten` runs in `context`: exact names first, then patterns (first match)."""
        ctx = self.contexts.get(context)
        if ctx is None:
            return None
        found = ctx.extensions.get(exten)
        if found is not None and found.steps:
            return found
        patterns = self._patterns.get(context)
        if patterns is None:
            patterns = self._patterns[context] = [(p, e) for p, e in ctx.extensions.items() if p.startswith("_")]
        for pattern, ext in patterns:
            if ext.steps and self._regex[pattern].match(exten):
                return ext
        return None

    def priority_of(self, context: str, exten: str, target: str) -> int | None:
        """A Goto target's priority: a number, or a label of that extension (Asterisk's priority labels)."""
        if target.strip().isdigit():
            return int(target)
        ext = self.find(context, exten)
        return ext.labels.get(target.strip()) if ext else None

    def matches(self, pattern: str, exten: str) -> bool:
        """Whether the extension named ``pattern`` (a name or a ``_`` pattern) covers ``exten``."""
        return bool(self._regex[pattern].match(exten)) if pattern.startswith("_") else pattern == exten

    def exists(self, context: str, exten: str, priority: int = 1) -> bool:
        ext = self.find(context, exten)
        return ext is not None and priority in ext.steps

    def hints(self) -> list[tuple[str, str, str]]:
        """(context, exten, device) for every hint, in definition order."""
        return [(c.name, e.pattern, e.hint) for c in self.contexts.values() for e in c.extensions.values() if e.hint]

    def hints_of(self, device: str) -> list[tuple[str, str]]:
        """(context, exten) of every hint on ``device``, in definition order."""
        if self._hints_of is None:
            self._hints_of = {}
            for ctx, exten, dev in self.hints():
                self._hints_of.setdefault(dev, []).append((ctx, exten))
        return self._hints_of.get(device, [])


_FUNCTION = re.compile(r"([A-Za-z0-9_]+)\((.*)\)\Z", re.DOTALL)
Functions = Callable[[str, list[str]], "str | None"]


def substitute(text: str, lookup: dict[str, str], functions: Functions | None = None) -> str:
    """Expand ``${NAME}`` and ``${FUNC(args)}``, innermost first as Asterisk does (``${A(${B})}``); unknown
    variables and functions expand to "". ``lookup`` also answers names like ``CALLERID(num)`` directly."""
    out: list[str] = []
    i = 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        depth, j = 1, start + 2
        while j < len(text) and depth:
            if text.startswith("${", j):
                depth, j = depth + 1, j + 2
                continue
            depth -= text[j] == "}"
            j += 1
        if depth:  # unbalanced: left as it is
            out.append(text[start:])
            break
        inner = substitute(text[start + 2 : j - 1], lookup, functions)
        out.append(_value(inner, lookup, functions))
        i = j
    return "".join(out)


def _value(name: str, lookup: dict[str, str], functions: Functions | None) -> str:
    if name in lookup:
        return lookup[name]
    call = _FUNCTION.match(name)
    if call is None or functions is None:
        return ""
    return functions(call.group(1), split_args(call.group(2))) or ""


def split_args(data: str) -> list[str]:
    """Split application data on commas (no quoting: the lab dialplan never needs it)."""
    return data.split(",") if data else []


def separate_args(data: str) -> list[str]:
    """Split application data as AST_STANDARD_APP_ARGS does (main/app.c __ast_app_separate_args, remove_chars):
    commas inside parentheses, square brackets or double quotes do not split, the quotes are removed, and a
    backslash makes the next character literal. ``Queue(q,,,,,,"sub,arg")`` has ``sub,arg`` as its 7th argument."""
    if not data:
        return []
    args: list[str] = []
    current: list[str] = []
    paren = bracket = 0
    quote = False
    i = 0
    while i < len(data):
        char = data[i]
        if char == "(":
            paren += 1
        elif char == ")":
            paren -= 1 if paren else 0
        elif char == "[":
            bracket += 1
        elif char == "]":
            bracket -= 1 if bracket else 0
        elif char == '"':
            quote = not quote
            i += 1
            continue
        elif char == "\\":
            i += 1
            if i < len(data):
                current.append(data[i])
            i += 1
            continue
        elif char == "," and not paren and not quote and not bracket:
            args.append("".join(current))
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    args.append("".join(current))
    return args
