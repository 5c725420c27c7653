"""How long a fresh process takes to load the Definitions (every run and UI reload pays it).

Reference in the same run: a fresh process that only imports dagster and dagster_dbt, the floor
no code location can go below. Goal: definitions load <= 3 s.
"""

import sys

from benchmarks._measure import command_seconds, machine, median

REPEATS = 5


def main() -> int:
    """Print both medians and their ratio."""
    python = sys.executable
    reference = command_seconds([python, "-c", "import dagster, dagster_dbt"], REPEATS)
    ours = command_seconds([python, "-c", "import orchestration.definitions"], REPEATS)
    print(f"definitions load ({machine()}, median of {REPEATS} fresh processes)")
    print(f"  reference: import dagster + dagster_dbt   {median(reference):6.2f} s")
    print(f"  orchestration.definitions                 {median(ours):6.2f} s")
    print(f"  ratio ours / reference                    {median(ours) / median(reference):6.2f}")
    print(f"  goal <= 3 s: {'met' if median(ours) <= 3 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
