"""docs/operations.md names every alert type the code writes to ops.alerts, and no other."""

from __future__ import annotations

import re

from integrations.settings import PROJECT_ROOT

OPERATIONS_DOC = PROJECT_ROOT / "docs" / "operations.md"
SOURCE_FOLDERS = ("assets", "integrations", "domain", "sensors", "orchestration")
ALERT_INSERT = re.compile(r"insert into ops\.alerts", re.IGNORECASE)
#: ``... values ('<type>', ...`` right after the insert
LITERAL_TYPE = re.compile(r"values\s*\(\s*'([a-z][a-z0-9_]*)'", re.IGNORECASE)
#: ``ALERT_TYPE = "<type>"`` / ``STALE_ALERT = "<type>"`` in a module that writes alerts
CONSTANT_TYPE = re.compile(r"^[A-Z_]*ALERT[A-Z_]*\s*=\s*\"([a-z][a-z0-9_]*)\"", re.MULTILINE)
DOC_SECTION = re.compile(r"^### `([a-z][a-z0-9_]*)`", re.MULTILINE)


def alert_types_in_code() -> dict[str, str]:
    """Alert types the code inserts into ops.alerts, each with the file that does it."""
    found: dict[str, str] = {}
    for folder in SOURCE_FOLDERS:
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            inserts = list(ALERT_INSERT.finditer(text))
            if not inserts:
                continue
            where = path.relative_to(PROJECT_ROOT).as_posix()
            for insert in inserts:
                literal = LITERAL_TYPE.search(text, insert.end(), insert.end() + 300)
                if literal:
                    found.setdefault(literal.group(1), where)
            for constant in CONSTANT_TYPE.findall(text):
                found.setdefault(constant, where)
    return found


def test_the_scan_finds_the_alert_types_of_the_built_flows():
    assert {"site_market_conflict", "measurements_stale", "tso_document_rejected"} <= set(
        alert_types_in_code()
    )


def test_every_alert_type_has_a_section_in_operations_md_and_every_section_an_alert():
    in_code = alert_types_in_code()
    documented = set(DOC_SECTION.findall(OPERATIONS_DOC.read_text(encoding="utf-8")))
    undocumented = {t: where for t, where in in_code.items() if t not in documented}
    assert not undocumented, (
        "alert types without a '### `<type>`' section (meaning, what to do) in "
        f"docs/operations.md: {undocumented}"
    )
    assert documented <= set(in_code), (
        f"docs/operations.md documents alerts no code raises: {documented - set(in_code)}"
    )
