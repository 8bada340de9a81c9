"""Reading and writing the product file: one row per variant, the same columns in CSV and JSONL.

A CSV file's first line names its columns; a JSONL line is an object whose keys are the same
column names. The README's "Product import and export" section lists them; in short:

- `handle` (the product's slug, required), `name`, `description`, `category` (a category's slug),
  `status` (DRAFT, ACTIVE, ARCHIVED), `product_type` (a product type's slug);
- `sku` (the variant's, the key every row is matched by), `variant_name`, `price`,
  `compare_at_price`, `weight_grams`;
- `option:<Name>` (the variant's value of that option), `attribute:<slug>` (the product's values),
  `variant_attribute:<slug>` (the variant's), `stock:<warehouse code>` (on hand, set).

A column left out leaves its field as it is. An empty cell (JSONL: `""` or `null`) clears what can
be empty (`description`, `category`, `compare_at_price`, an attribute's values, an option) and
leaves the rest as it is. A MULTI_SELECT attribute's values are separated by `|` (JSONL: a list of
strings is taken too). Every row of a product carries its product's columns; where they differ,
the later row wins. An empty `sku` makes a row about the product alone (a product without variants).
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from models import ProductFileFormat

HANDLE, NAME, DESCRIPTION, CATEGORY, STATUS, PRODUCT_TYPE = (
    "handle",
    "name",
    "description",
    "category",
    "status",
    "product_type",
)
SKU, VARIANT_NAME, PRICE, COMPARE_AT_PRICE, WEIGHT = "sku", "variant_name", "price", "compare_at_price", "weight_grams"
PRODUCT_COLUMNS = (HANDLE, NAME, DESCRIPTION, CATEGORY, STATUS, PRODUCT_TYPE)
VARIANT_COLUMNS = (SKU, VARIANT_NAME, PRICE, COMPARE_AT_PRICE, WEIGHT)
FIXED = frozenset(PRODUCT_COLUMNS + VARIANT_COLUMNS)
OPTION, ATTRIBUTE, VARIANT_ATTRIBUTE, STOCK = "option:", "attribute:", "variant_attribute:", "stock:"
PREFIXES = (OPTION, ATTRIBUTE, VARIANT_ATTRIBUTE, STOCK)
SEPARATOR = "|"  # between a MULTI_SELECT attribute's values in one cell
MAX_COLUMNS = 200


class FileError(ValueError):
    """The file cannot be read at all (its header): nothing of it is imported."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Row:
    """One data row: its line in the file (the first line is 1) and its cells by column name, or
    why it could not be read (`problem`)."""

    line: int
    cells: dict[str, str]
    problem: str = ""


def column_problem(name: str) -> str | None:
    """Why a column name is not one of the file's, or None."""
    if name in FIXED:
        return None
    for prefix in PREFIXES:
        if name.startswith(prefix) and name[len(prefix) :].strip():
            return None
    return f"Unknown column {name!r}."


@functools.lru_cache(maxsize=1024)
def split_column(name: str) -> tuple[str, str]:
    """A prefixed column's prefix and what follows it (`("option:", "Size")`); ("", name) for the rest."""
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return prefix, name[len(prefix) :].strip()
    return "", name


def read(content: str, file_format: ProductFileFormat) -> list[Row]:
    """Every data row of the file (a row that cannot be read carries its `problem`); FileError when
    the file as a whole cannot be (a CSV header naming an unknown or repeated column)."""
    return list(_csv(content) if file_format is ProductFileFormat.CSV else _jsonl(content))


def _csv(content: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(content.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise FileError(1, "The file is empty: its first line names the columns.") from None
    except csv.Error as error:
        raise FileError(1, f"The header cannot be read: {error}.") from None
    names = [name.strip() for name in header]
    _check_columns(names, 1)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Row(line, {}, f"The line cannot be read: {error}.")
            continue
        if not cells or cells == [""]:
            continue  # a blank line
        if len(cells) != len(names):
            yield Row(line, {}, f"The row has {len(cells)} cells; the header names {len(names)} columns.")
            continue
        yield Row(line, dict(zip(names, cells, strict=True)))


def _check_columns(names: Sequence[str], line: int) -> None:
    if len(names) > MAX_COLUMNS:
        raise FileError(line, f"A file has at most {MAX_COLUMNS} columns.")
    seen: set[str] = set()
    for name in names:
        problem = column_problem(name)
        if problem is not None:
            raise FileError(line, problem)
        if name in seen:
            raise FileError(line, f"The column {name!r} is named twice.")
        seen.add(name)
    if HANDLE not in seen:
        raise FileError(line, "The `handle` column is required: it names each row's product.")


def _jsonl(content: str) -> Iterator[Row]:
    for number, text in enumerate(content.removeprefix("\ufeff").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            # Numbers keep the digits written: a price of 9.90 stays 9.90, never a float.
            document = json.loads(text, parse_float=Decimal, parse_int=Decimal)
        except ValueError as error:
            yield Row(number, {}, f"The line is not JSON: {error}.")
            continue
        if not isinstance(document, dict):
            yield Row(number, {}, "The line is not a JSON object.")
            continue
        if len(document) > MAX_COLUMNS:
            yield Row(number, {}, f"A row has at most {MAX_COLUMNS} columns.")
            continue
        cells: dict[str, str] = {}
        problem = ""
        for key, value in document.items():
            problem = column_problem(key) or _cell_problem(key, value)
            if problem:
                break
            cells[key] = _cell(value)
        if not problem and HANDLE not in cells:
            problem = "The row has no `handle`: it names the row's product."
        yield Row(number, {} if problem else cells, problem)


def _cell_problem(key: str, value: object) -> str:
    if value is None or isinstance(value, str | bool | Decimal):
        return ""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ""
    return f"`{key}` is neither a string, a number, true/false, null nor a list of strings."


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return SEPARATOR.join(value)
    return str(value)


def write(columns: Sequence[str], rows: Sequence[dict[str, str]], file_format: ProductFileFormat) -> str:
    """The file of `rows` (each holding every one of `columns`), in `file_format`."""
    out = io.StringIO(newline="")
    if file_format is ProductFileFormat.CSV:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([row[column] for column in columns] for row in rows)
    else:
        for row in rows:
            out.write(json.dumps({column: row[column] for column in columns}, ensure_ascii=False))
            out.write("\n")
    return out.getvalue()
