"""Results as data: the lines guests and tools print, and the statistics taken of them once.

The structured channel is a line format that the guest's test init, the guest tools and kvmini share:
a tag, a word naming the record, then key=value fields, as in
    XFER recvd bytes=268435456 crc=1c291ca3 secs=2.113 MBps=127.0
    KVMINI-TEST: memtotal_kb=246828
records() turns such lines into dicts; nothing else parses console text.
"""

import re
import statistics

_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)")


def read(path):
    """The text of a log, CRs dropped (the guest's tty ends lines with CRLF); '' if it is missing."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").replace("\r", "")
    except FileNotFoundError:
        return ""


def matching(text, pattern):
    """The lines of TEXT in which the regular expression PATTERN matches (as grep -E would)."""
    rx = re.compile(pattern)
    return [line for line in text.split("\n") if rx.search(line)]


def _value(v):
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def records(text, tag, word=None):
    """Each line holding TAG (and WORD after it, when given) as a dict of its key=value fields after
    them, numbers converted; the record's word is under "_"."""
    head = re.compile(re.escape(tag) + r"\s*(\S+)?" if word is None else re.escape(tag) + r"\s*(" + re.escape(word) + r")\b")
    out = []
    for line in text.split("\n"):
        m = head.search(line)
        if not m:
            continue
        rec = {"_": m.group(1) or ""}
        rest = line[m.start():]
        rec.update((k, _value(v)) for k, v in _FIELD.findall(rest))
        out.append(rec)
    return out


def scan(text, pattern):
    """The first group of PATTERN's first match in TEXT, as a number where it is one, or None: for the
    few figures other programs print outside records (ping's round-trip summary, kvmini's log lines)."""
    m = re.search(pattern, text)
    return _value(m.group(1)) if m else None


def field(text, tag, word, key):
    """KEY's value in the first TAG WORD record, or None."""
    for rec in records(text, tag, word):
        if key in rec:
            return rec[key]
    return None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    """A / B, or None where either is missing or B is 0."""
    return a / b if a is not None and b else None


def fmt(v, digits=1):
    return "n/a" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def table(header, rows, markdown=False):
    """Print HEADER and ROWS (lists of cells) as left-aligned first column, right-aligned others; as
    a Markdown table (numbers' columns right-aligned) when MARKDOWN."""
    cells = [[str(c) for c in r] for r in [header] + rows]
    if markdown:
        for i, r in enumerate(cells):
            print("| " + " | ".join(r) + " |")
            if i == 0:
                print("| " + " | ".join(["---"] + ["---:"] * (len(r) - 1)) + " |")
        return
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(len(header))]
    for r in cells:
        print("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip())
