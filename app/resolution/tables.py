"""The word tables of app/resolution/data/, one file per table: UTF-8, one row a line, fields
separated by tabs, lines starting with `#` are comments (the first say what the table is for
and name its columns). Read once, when the module that uses a table is imported or first asks.
"""

from pathlib import Path

DATA = Path(__file__).parent / "data"


def rows(name: str, columns: int) -> list[tuple[str, ...]]:
    """The rows of data/<name>.tsv, each of exactly `columns` fields: a malformed row fails
    loudly where the table is read, not as a word silently missing from it."""
    path = DATA / f"{name}.tsv"
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = tuple(line.split("\t"))
        if len(fields) != columns or not all(fields):
            raise ValueError(f"{path.name}, line {number}: {columns} tab-separated fields expected")
        found.append(fields)
    return found
