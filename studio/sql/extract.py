"""Pull the SQL statement out of a model's reply."""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|$)", re.DOTALL)
_QUERY_START = re.compile(r"(?<![\w.])(SELECT|WITH)\b", re.IGNORECASE)
_LINE_QUERY_START = re.compile(
    r"^[ \t]*(?:SQL(?:Query)?:[ \t]*)?((?:SELECT|WITH)\b)", re.IGNORECASE | re.MULTILINE
)
_SQL_LANGS = {"sql", "sqlite", "mysql", "postgresql", "postgres", "tsql", "plsql"}


def extract_sql(model_output: str) -> str:
    """The first SQL query in a reply: from a ```sql fence when there is one, else from the
    first line that starts with SELECT/WITH (else the first SELECT/WITH anywhere); leading prose,
    trailing explanation and the final semicolon go.
    A reply with no query in it comes back stripped, for the engine to reject.
    """
    text = _THINK.sub("", model_output).strip()
    fences = _FENCE.findall(text)
    sql_fences = [body for lang, body in fences if lang.lower() in _SQL_LANGS]
    untagged = [body for lang, body in fences if not lang and _QUERY_START.search(body)]
    candidates = sql_fences or untagged
    if candidates:
        text = candidates[0]
    line_start = _LINE_QUERY_START.search(text)
    if line_start is not None:
        return _strip_semicolon(_cut_after_statement(text[line_start.start(1) :]))
    start = _QUERY_START.search(text)
    if start is None:
        return _strip_semicolon(text)
    return _strip_semicolon(_cut_after_statement(text[start.start() :]))


def sql_settled(model_output: str) -> bool:
    """True once more text cannot change what `extract_sql` reads: a ```sql block is closed
    (the first such block wins whatever follows) and no <think> section could swallow it."""
    if "<think>" in model_output.lower():
        return False
    for fence in _FENCE.finditer(model_output):
        if fence.group(1).lower() in _SQL_LANGS:
            return fence.group(0).endswith("```")
    return False


def _cut_after_statement(text: str) -> str:
    """Text up to the first semicolon outside quotes, or up to the first blank line."""
    quote: str | None = None
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"`":
            quote = char
        elif char == ";":
            return text[:index]
    return re.split(r"\n\s*\n", text, maxsplit=1)[0]


def _strip_semicolon(text: str) -> str:
    return text.strip().rstrip(";").strip()
