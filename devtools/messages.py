"""`make messages`: the template (wartemarke.pot) from the German catalogue, and every other catalogue
brought up to it with Babel, so a new id reaches each language as an empty entry for its translator.

German is the reference: its `.po` file is where an id is added, renamed or dropped (README.md
"Languages"). The `.pot` is generated (not in git) for translators' tools. Each other language gets the
template's ids it must have (the staff pages' only in German and English, `staff_only`), keeps its texts,
flags and comments, and loses ids the template no longer has. Babel drops `python-brace-format` from
id-keyed entries (it looks for braces in the msgid, which is an id), so it is set here from the German text.
"""

from __future__ import annotations

import argparse
import ast
import string
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

from language.catalogue import COMPLETE_LANGUAGES, DOMAIN, LANGUAGES, LOCALE_DIR, catalogue_path, staff_only

TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
BRACE_FORMAT = "python-brace-format"


def read(path: Path, lang: str | None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=lang, domain=DOMAIN)


def write(path: Path, catalog: Catalog, reference: Catalog) -> None:
    """Writes `catalog` in the reference's order, each entry flagged as its German text needs."""
    for message in catalog:
        if message.id:
            _flag(message, reference)
    with path.open("wb") as po:
        write_po(po, catalog, width=0, sort_output=False, ignore_obsolete=True)


def _flag(message: Message, reference: Catalog) -> None:
    german = reference.get(message.id)
    strings = german.string if german is not None else message.string
    texts = strings if isinstance(strings, (tuple, list)) else (strings,)
    if any(name for text in texts for _, name, _, _ in string.Formatter().parse(text or "")):
        message.flags.add(BRACE_FORMAT)


def template(reference: Catalog, lang: str | None) -> Catalog:
    """The reference's ids with empty texts: all (`lang` None: the `.pot`), or those `lang` must have."""
    pot = Catalog(domain=DOMAIN, project="wartemarke", locale=lang, fuzzy=False)
    for message in reference:
        if message.id and (lang is None or lang in COMPLETE_LANGUAGES or not staff_only(_key(message))):
            pot.add(message.id, "" if isinstance(message.id, str) else ("",) * 2,
                    auto_comments=message.auto_comments, flags=message.flags)
    return pot


def _key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def update(languages: tuple[str, ...]) -> list[str]:
    """Writes the `.pot` and updates each language's catalogue; returns what it did, a line per file."""
    reference = read(catalogue_path(LANGUAGES[0]), LANGUAGES[0])
    write(TEMPLATE, template(reference, None), reference)
    write(catalogue_path(LANGUAGES[0]), reference, reference)  # (its flags, as Babel dropped them on reading)
    done = [f"{TEMPLATE}: {sum(1 for m in reference if m.id)} ids"]
    for lang in languages:
        if lang == LANGUAGES[0]:
            continue
        path = catalogue_path(lang)
        catalog = read(path, lang)
        before = {_key(m) for m in catalog if m.id}
        catalog.update(template(reference, lang), no_fuzzy_matching=True, update_creation_date=False)
        after = {_key(m) for m in catalog if m.id}
        write(path, catalog, reference)
        done.append(f"{path}: +{len(after - before)} -{len(before - after)}")
    return done


def import_tables(german: Path, english: Path) -> list[str]:
    """The ids of the old Python tables (`language/de.py`, `en.py` of a branch from before the catalogues) that
    the catalogues lack, added to German and English (then `update` gives the others empty entries)."""
    reference = read(catalogue_path("de"), "de")
    added = []
    for lang, table_path in (("de", german), ("en", english)):
        catalog = reference if lang == "de" else read(catalogue_path(lang), lang)
        for key, text in _table(table_path).items():
            if key not in catalog:
                catalog.add(key, text)
                added.append(f"{lang}: {key}")
        write(catalogue_path(lang), catalog, reference)
    return added


def _table(path: Path) -> dict[str, str]:
    """`MESSAGES = {...}` of a table module, read as a literal (never executed)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr
        value: ast.expr | None
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "MESSAGES" and value is not None:
            table = ast.literal_eval(value)
            if isinstance(table, dict):
                return {str(key): str(text) for key, text in table.items()}
    raise ValueError(f"{path}: no MESSAGES = {{...}} table")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("languages", nargs="*", default=list(LANGUAGES), help="default: all")
    parser.add_argument("--from-tables", nargs=2, type=Path, metavar=("DE_PY", "EN_PY"),
                        help="first add the ids of old language/de.py and en.py tables that the catalogues lack")
    args = parser.parse_args()
    if args.from_tables:
        for line in import_tables(*args.from_tables):
            print(f"added {line}")
    for line in update(tuple(args.languages)):
        print(line)


if __name__ == "__main__":
    main()
