"""The ``vppal`` command line: ``vppal db start|stop|status|url``, ``vppal summary``, ...

``vppal privacy erase CUSTOMER_ID --reason TEXT`` erases a customer's personal data.
"""

from __future__ import annotations

import argparse
import sys

from integrations.database import admin
from integrations.database.urls import (
    EXTERNAL_URL_VARIABLE,
    database_url,
    embedded_server,
    external_url,
)


def _db_start() -> int:
    try:
        print(admin.prepare_database())
    except RuntimeError as error:  # the message says what failed and what to do, no traceback
        print(f"vppal db start: {error}", file=sys.stderr)
        return 1
    return 0


def _db_stop() -> int:
    if external_url() is not None:
        print(f"{EXTERNAL_URL_VARIABLE} is set: the external server is not ours to stop")
        return 0
    stopped = embedded_server().stop()
    print("stopped" if stopped else "was not running")
    return 0


def _db_status() -> int:
    if external_url() is not None:
        print(f"external server from {EXTERNAL_URL_VARIABLE}")
        return 0
    status = embedded_server().status()
    print(status.describe())
    return 0 if status.running else 3


def _db_url() -> int:
    try:
        print(database_url())
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def _dbt(dbt_args: list[str]) -> int:
    """Run dbt in dbt_project/ with the platform database's connection in the environment."""
    import subprocess
    from pathlib import Path

    from integrations.database.resource import PostgresResource
    from integrations.settings import DBT_PROJECT_DIR

    admin.prepare_database(lambda _line: None)
    PostgresResource().export_for_dbt()
    dbt = str(Path(sys.executable).parent / "dbt")
    return subprocess.call([dbt, *dbt_args, "--profiles-dir", "."], cwd=DBT_PROJECT_DIR)


def _with_db(command: list[str]) -> int:
    """Run ``command`` with the database started and dbt's connection variables exported."""
    import subprocess

    from integrations.database.resource import PostgresResource

    if not command:
        print("usage: vppal with-db COMMAND [ARGS...]", file=sys.stderr)
        return 2
    admin.prepare_database(lambda _line: None)
    PostgresResource().export_for_dbt()
    return subprocess.call(command)


def _privacy_erase(customer_id: str, reason: str, landing: str | None) -> int:
    """Erase a customer's personal data (docs/privacy.md); print what was done, no personal data."""
    from pathlib import Path

    from integrations.privacy.erasure import (
        ErasureReasonError,
        UnknownCustomerError,
        erase_customer,
    )

    try:
        report = erase_customer(
            database_url(),
            customer_id,
            reason=reason,
            landing=Path(landing) if landing else None,
        )
    except (RuntimeError, ValueError, UnknownCustomerError) as error:
        kind = "refused" if isinstance(error, ErasureReasonError) else "error"
        print(f"{kind}: {error}", file=sys.stderr)
        return 1
    print(f"erasure {report.erasure_id}: customer {customer_id} is now {report.customer_pseudonym}")
    if report.already_erased:
        print("  (erased before: this run removed what came back)")
    print(f"  personal data rows deleted: {report.personal_rows_deleted}")
    files = len(report.files_redacted)
    print(f"  landed files redacted: {files} ({report.records_redacted} records)")
    for path in report.files_redacted:
        print(f"    {path}")
    for path, why in report.files_unreadable:
        print(f"  NOT READ, check by hand: {path} ({why})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, exposed for tests."""
    parser = argparse.ArgumentParser(prog="vppal", description="VPP Aggregation Layer tools")
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="manage the platform's PostgreSQL")
    db.add_argument("action", choices=["start", "stop", "status", "url"])
    commands.add_parser("summary", help="print what the registry holds")
    commands.add_parser("demo", help="run the registry job end to end on the bundled sample")
    dev = commands.add_parser("dev", help="start the Dagster UI with the project's instance")
    dev.add_argument("--port", type=int, default=3000)
    dbt = commands.add_parser("dbt", help="run dbt against the platform database")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    with_db = commands.add_parser(
        "with-db", help="start the database if needed and run a command with dbt's connection set"
    )
    with_db.add_argument("run", nargs=argparse.REMAINDER)
    privacy = commands.add_parser("privacy", help="data subject requests (docs/privacy.md)")
    privacy_verbs = privacy.add_subparsers(dest="privacy_command", required=True)
    erase = privacy_verbs.add_parser(
        "erase", help="delete a customer's personal data; settlement history stays pseudonymous"
    )
    erase.add_argument("customer_id")
    erase.add_argument(
        "--reason", required=True, help="why (e.g. a ticket number); no personal data"
    )
    erase.add_argument(
        "--landing", help="registry landing folder (default var/landing/registry)", default=None
    )
    sims = commands.add_parser("simulators", help="serve the TSO and device-cloud simulators")
    sims.add_argument("--tso-port", type=int, default=8701)
    sims.add_argument("--device-cloud-port", type=int, default=8702)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vppal`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "db":
        actions = {"start": _db_start, "stop": _db_stop, "status": _db_status, "url": _db_url}
        return actions[args.action]()
    if args.command == "demo":
        from orchestration.demo import run_demo

        return run_demo()
    if args.command == "dev":
        from orchestration.dev import run_dev

        return run_dev(args.port)
    if args.command == "dbt":
        return _dbt(args.dbt_args)
    if args.command == "with-db":
        return _with_db(args.run)
    if args.command == "privacy":
        return _privacy_erase(args.customer_id, args.reason, args.landing)
    if args.command == "simulators":
        from simulators.serve import serve_simulators

        return serve_simulators(args.tso_port, args.device_cloud_port)
    if args.command == "summary":
        from integrations.summary import print_summary

        try:
            url = database_url()
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 1
        return print_summary(url)
    return 2


if __name__ == "__main__":
    sys.exit(main())
