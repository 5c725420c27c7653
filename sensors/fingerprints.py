"""Content hashes of landed files: the run keys of the landing sensors."""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import dagster as dg


def file_fingerprints(
    folder: Path, pattern: str, keep: Callable[[Path], bool] = lambda _path: True
) -> dict[str, str]:
    """SHA-256 of every file matching ``pattern`` under ``folder``, by relative path."""
    if not folder.exists():
        return {}
    found = {}
    for path in sorted(folder.glob(pattern)):
        if path.is_file() and not path.name.startswith(".") and keep(path):
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(8 << 20):
                    digest.update(chunk)
            found[str(path.relative_to(folder))] = digest.hexdigest()
    return found


def new_files(previous: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """The files whose content is new since ``previous``."""
    return {path: digest for path, digest in current.items() if previous.get(path) != digest}


def run_key(files: dict[str, str]) -> str:
    """One key for a set of file contents: the same contents never start two runs."""
    return hashlib.sha256("".join(sorted(files.values())).encode()).hexdigest()


def landing_sensor_result(
    cursor: str | None, current: dict[str, str], what: str
) -> dg.SensorResult:
    """Compare the files' hashes with the cursor; one run request for the new contents."""
    seen: dict[str, str] = json.loads(cursor) if cursor else {}
    new = new_files(seen, current)
    if not new:
        return dg.SensorResult(skip_reason=f"no new {what}", cursor=json.dumps(current))
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key(new), tags={"vppal/files": str(len(new))})],
        cursor=json.dumps(current),
    )
