"""Load every new registry file of the landing zone, batch by batch, file by file."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from domain.erasure import refuse_erased
from domain.registry import ENTITY_ORDER
from integrations.privacy.register import ErasedCheck, erased_customer_check
from integrations.registry import store
from integrations.registry.reader import SUFFIXES, LandedFile, read_landed_file


@dataclass
class LoadReport:
    """What a load did, for run metadata and the command line."""

    files_loaded: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    rows_changed: Counter[str] = field(default_factory=Counter)
    rows_unchanged: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)

    @property
    def quarantined_total(self) -> int:
        """Records refused in this load."""
        return sum(self.quarantined.values())


def landed_files(folder: Path) -> list[tuple[str, Path]]:
    """(batch, path) of the landing zone, batches in name order, files in entity order."""
    if not folder.exists():
        return []
    found: list[tuple[str, Path]] = []
    for batch_dir in sorted(
        p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        files = [p for p in batch_dir.iterdir() if p.is_file() and not p.name.startswith(".")]

        def order(path: Path) -> tuple[int, str]:
            rank = ENTITY_ORDER.index(path.stem) if path.stem in ENTITY_ORDER else len(ENTITY_ORDER)
            return rank, path.name

        found.extend((batch_dir.name, path) for path in sorted(files, key=order))
    return found


def load_registry(url: str, folder: Path, batches: set[str] | None = None) -> LoadReport:
    """Apply the files under ``folder`` not loaded before; one transaction per file.

    ``batches`` limits the load to those batch folders (None = every batch).
    """
    report = LoadReport()
    with psycopg.connect(url) as conn:
        # One loader at a time: the state below must not change underneath us.
        conn.execute("select pg_advisory_lock(hashtext(%s))", (store.LOCK_KEY,))
        try:
            state = store.load_state(conn)
            is_erased = erased_customer_check(conn)
            conn.commit()
            for batch, path in landed_files(folder):
                if batches is not None and batch not in batches:
                    continue
                landed = read_landed_file(path, batch)
                if store.already_loaded(conn, landed):
                    report.files_skipped.append(landed.source)
                    conn.rollback()
                    continue
                _load_one(conn, landed, state, report, is_erased)
        finally:
            conn.rollback()
            conn.execute("select pg_advisory_unlock(hashtext(%s))", (store.LOCK_KEY,))
            conn.commit()
    return report


def _load_one(
    conn: psycopg.Connection,
    landed: LandedFile,
    state: store.RegistryState,
    report: LoadReport,
    is_erased: ErasedCheck | None,
) -> None:
    outcome = None
    if landed.entity is not None:
        rows, erased = landed.rows, []
        if landed.entity == "customers" and is_erased is not None:
            # An erased customer's data is not taken again (docs/privacy.md, "Erasure").
            rows, erased = refuse_erased(landed.rows, is_erased)
        outcome = state.apply(landed.entity, rows)
        outcome.rejected.extend(erased)
    store.write_file(conn, landed, outcome, datetime.now(UTC))
    conn.commit()
    report.files_loaded.append(landed.source)
    for _, code, _ in landed.problems:
        report.quarantined[code] += 1
    if outcome is not None:
        report.rows_changed[outcome.entity] += len(outcome.changed)
        report.rows_unchanged += outcome.unchanged
        for rejection in outcome.rejected:
            report.quarantined[rejection.code] += 1


__all__ = ["SUFFIXES", "LoadReport", "landed_files", "load_registry"]
