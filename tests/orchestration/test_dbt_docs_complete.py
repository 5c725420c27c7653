"""Every marts and intermediate dbt model documents itself and every column it outputs (issue 9).

Finance and operators read these models in dbt's docs and in the Dagster UI. The checks here read
``dbt_project/target/manifest.json`` (what Dagster loads): each model and each of its columns
has a description that says more than the column's name; the columns documented are exactly
the columns the model's SQL puts out (for enforced contracts dbt itself holds the SQL to the
documented list; for the rest an empty ``dbt run`` in a scratch database shows the output); and
the column docs reach the Dagster asset as its ``dagster/column_schema``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from integrations.database import admin
from integrations.database.urls import database_name, libpq_parts, with_database
from integrations.settings import DBT_PROJECT_DIR

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
#: The layers people read: the marts (finance included) and the intermediate models under them.
DOCUMENTED_LAYERS = ("models/marts/", "models/intermediate/")
#: A description shorter than this cannot say a unit, a sign, a time zone or a source.
MIN_DESCRIPTION = 12


def load_manifest(path: Path = MANIFEST) -> dict[str, Any]:
    """The parsed dbt manifest."""
    return json.loads(path.read_text(encoding="utf-8"))


def documented_models(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The project's models in the marts and intermediate layers, by name."""
    return sorted(
        (
            node
            for node in manifest["nodes"].values()
            if node["resource_type"] == "model"
            and node["package_name"] == "vppal"
            and node["original_file_path"].startswith(DOCUMENTED_LAYERS)
        ),
        key=lambda node: node["name"],
    )


def _restates(name: str, description: str) -> bool:
    words = re.sub(r"[^a-z0-9]+", " ", description.lower()).split()
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words) in {name.replace("_", " "), name.replace("_", "")}


def description_gaps(node: dict[str, Any]) -> list[str]:
    """What a model's docs lack (empty when nothing): its own text and every column's."""
    gaps = []
    if not (node.get("description") or "").strip():
        gaps.append("no model description")
    if not node["columns"]:
        gaps.append("no columns documented")
    for name, column in node["columns"].items():
        text = (column.get("description") or "").strip()
        if not text:
            gaps.append(f"{name}: no description")
        elif len(text) < MIN_DESCRIPTION or _restates(name, text):
            gaps.append(f"{name}: {text!r} only restates the name")
    if node["config"].get("contract", {}).get("enforced"):
        untyped = [name for name, column in node["columns"].items() if not column["data_type"]]
        if untyped:
            gaps.append(f"contract columns without a data_type: {untyped}")
    return gaps


def test_every_marts_and_intermediate_model_and_column_is_described():
    models = documented_models(load_manifest())
    assert len(models) >= 30
    assert any(node["original_file_path"].startswith("models/marts/finance/") for node in models)
    gaps = {node["name"]: problems for node in models if (problems := description_gaps(node))}
    assert not gaps, "dbt models whose yml lacks descriptions:\n" + "\n".join(
        f"  {name}: {'; '.join(problems)}" for name, problems in sorted(gaps.items())
    )


def test_the_check_finds_missing_and_name_only_descriptions():
    bare = {
        "name": "fct_example",
        "description": "",
        "config": {"contract": {"enforced": True}},
        "columns": {
            "pool_id": {"description": "", "data_type": "text"},
            "energy_kwh": {"description": "Energy kWh.", "data_type": None},
            "isp_start": {"description": "The ISP start", "data_type": "timestamptz"},
        },
    }
    gaps = description_gaps(bare)
    assert "no model description" in gaps
    assert "pool_id: no description" in gaps
    assert any(gap.startswith("energy_kwh:") for gap in gaps)  # too short to say anything
    assert any(gap.startswith("isp_start:") for gap in gaps)  # the name in words
    assert "contract columns without a data_type: ['energy_kwh']" in gaps
    assert description_gaps({**bare, "columns": {}})[-1] == "no columns documented"


def test_enforced_contracts_cover_the_marts_that_finance_and_the_tso_read():
    # With an enforced contract dbt fails the build unless the SQL puts out exactly the
    # documented columns, with their types: for these marts the yml is the SQL's output.
    models = {node["name"]: node for node in documented_models(load_manifest())}
    contracted = {name for name, node in models.items() if node["config"]["contract"]["enforced"]}
    assert {
        "settlement_tso_isp",
        "settlement_prosumer_isp",
        "prosumer_statements",
        "fct_delivery_isp",
        "fct_bids",
        "fct_activations",
        "fct_pool_power",
        "dim_isp",
    } <= contracted


def test_dagster_shows_the_column_docs_of_a_dbt_model():
    from assets.dbt_models import dbt_hourly_models

    node = load_manifest()["nodes"]["model.vppal.fct_pool_power"]
    spec = next(s for s in dbt_hourly_models.specs if s.key.path == ["marts", "fct_pool_power"])
    schema = spec.metadata["dagster/column_schema"]
    shown = {column.name: (column.type, column.description) for column in schema.columns}
    documented = {
        name: (column["data_type"], column["description"])
        for name, column in node["columns"].items()
    }
    assert shown == documented
    assert "offtake positive" in shown["power_mw"][1]


def _dbt_environment(url: str) -> dict[str, str]:
    parts = libpq_parts(url)
    return {
        **os.environ,
        "VPPAL_DBT_HOST": parts["host"],
        "VPPAL_DBT_PORT": parts["port"],
        "VPPAL_DBT_USER": parts["user"],
        "VPPAL_DBT_PASSWORD": parts["password"],
        "VPPAL_DBT_DBNAME": parts["dbname"],
    }


def sql_output_columns(url: str, work: Path) -> dict[str, list[str]]:
    """Per marts/intermediate model, the columns its compiled SQL puts out, in order.

    ``dbt run --empty`` creates every model (and what it reads) with no rows in the database at
    ``url``; each model's compiled SQL (ephemeral ones included) is then asked for its columns
    with ``limit 0``.
    """
    import psycopg

    dbt = str(Path(sys.executable).parent / "dbt")
    command = [dbt, "run", "--empty", "--select", "+path:models/marts", "+path:models/intermediate"]
    command += ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    result = subprocess.run(
        [*command, "--profiles-dir", "."],
        cwd=DBT_PROJECT_DIR,
        env=_dbt_environment(url),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    compiled = load_manifest(work / "target" / "manifest.json")
    columns = {}
    with psycopg.connect(url) as conn:
        for node in documented_models(compiled):
            cursor = conn.execute(f"select * from (\n{node['compiled_code']}\n) as q limit 0")
            columns[node["name"]] = [column.name for column in cursor.description or []]
    return columns


@pytest.mark.slow
def test_each_models_sql_output_columns_are_exactly_its_documented_columns(
    db_url: str, tmp_path: Path
):
    # A database of its own: the empty run must not leave empty tables in the session's one.
    url = with_database(db_url, f"{database_name(db_url)}_dbt_columns")
    admin.drop_database(url)
    admin.ensure_database(url)
    admin.migrate(url)
    try:
        output = sql_output_columns(url, tmp_path)
    finally:
        admin.drop_database(url)
    documented = {
        node["name"]: list(node["columns"]) for node in documented_models(load_manifest())
    }
    assert output.keys() == documented.keys()
    differences = {}
    for name, columns in output.items():
        undocumented = [c for c in columns if c not in documented[name]]
        stale = [c for c in documented[name] if c not in columns]
        if undocumented or stale:
            differences[name] = f"undocumented {undocumented}, documented but not output {stale}"
    assert not differences, "yml columns differ from the SQL's output:\n" + "\n".join(
        f"  {name}: {text}" for name, text in sorted(differences.items())
    )
