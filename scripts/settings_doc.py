"""Write docs/configuration.md, the table of every TESSERA_* variable, from the settings'
own declarations (tessera.core.settings), so the page cannot drift from the code.

    .venv/bin/python scripts/settings_doc.py           # rewrite the page
    .venv/bin/python scripts/settings_doc.py --check   # exit 1 when the page is out of date
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from tessera.core.settings import (
    FALSE_WORDS,
    REPOSITORY,
    TRUE_WORDS,
    DeclaredVariable,
    Text,
    declared_variables,
)

PAGE = REPOSITORY / "docs" / "configuration.md"
REGENERATE = ".venv/bin/python scripts/settings_doc.py"

INTRODUCTION = f"""# Configuration

Tessera reads its settings once, at start, from `TESSERA_*` environment variables. An unset or
empty variable keeps its default. A value its type cannot take stops the start with a message
naming the variable, e.g. `TESSERA_PUBLIC_URL: not an http(s) URL: 'ftp://x'`.

- **boolean**: {", ".join(sorted(TRUE_WORDS))} (true) or {", ".join(sorted(FALSE_WORDS))} (false),
  in any case; anything else is refused.
- **integer**, **number**: decimal; a number may have a fraction.
- **path**: a file or directory, relative to the working directory unless absolute.
- `<checkout>`: the directory Tessera is installed from.

In development (`TESSERA_ENV` other than `production`) the server makes what is missing of
`TESSERA_CODE_SECRET`, `TESSERA_VAPID_PRIVATE_KEY` and the Apple and Google wallet credentials,
and keeps them in the data directory so codes, passes and push subscriptions survive restarts.
Production makes nothing: it refuses to start, naming every variable it lacks.

This page is generated from the declarations in `backend/tessera/core/settings.py` by
`{REGENERATE}`; a test fails when it is out of date.

| Variable | Type | Default | What it does |
| --- | --- | --- | --- |
"""


def type_label(kind: Any) -> str:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        (inner,) = (arg for arg in get_args(kind) if arg is not type(None))
        return type_label(inner)
    if origin is Annotated:
        (marker,) = (extra for extra in get_args(kind)[1:] if isinstance(extra, Text))
        return marker.label.removeprefix("an ").removeprefix("a ")
    if origin is Literal:
        return "one of " + ", ".join(f"`{choice}`" for choice in get_args(kind))
    labels = {bool: "boolean", int: "integer", float: "number", Path: "path", str: "text"}
    return labels[kind]


def default_label(declared: DeclaredVariable) -> str:
    shown = declared.declaration.shown_default
    default = declared.default
    if shown is not None:
        return f"`{shown}`"
    if default is None or default == "":
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, Path) and default.is_absolute() and default.is_relative_to(REPOSITORY):
        return f"`<checkout>/{default.relative_to(REPOSITORY)}`"
    return f"`{default}`"


def row(declared: DeclaredVariable) -> str:
    cells = [
        f"`{declared.variable}`",
        type_label(declared.type),
        default_label(declared),
        declared.declaration.doc,
    ]
    return "| " + " | ".join(cell.replace("|", r"\|") for cell in cells) + " |"


def page() -> str:
    rows = [row(declared) for declared in declared_variables()]
    return INTRODUCTION + "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the page is up to date")
    args = parser.parse_args()
    wanted = page()
    if args.check:
        if not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != wanted:
            print(f"{PAGE.relative_to(REPOSITORY)} is out of date: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(wanted, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(REPOSITORY)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
