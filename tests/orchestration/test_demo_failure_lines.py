"""A failed demo run says which step failed and the asset's own error (not Dagster's wrapper)."""

from __future__ import annotations

import dagster as dg

from orchestration.demo import failure_lines


def test_the_root_error_of_each_failed_step_is_shown_on_one_line():
    @dg.asset
    def measurement_files() -> None:
        raise ValueError(
            "export.csv line 3: power_w 'abc' is not a number; fix the file and land it again\n"
            "(second line not shown)"
        )

    @dg.asset
    def fine() -> None:
        return None

    result = dg.materialize([measurement_files, fine], raise_on_error=False)
    assert not result.success
    assert failure_lines(result) == [
        "step measurement_files: ValueError: export.csv line 3: power_w 'abc' is not a number;"
        " fix the file and land it again"
    ]
    assert failure_lines(dg.materialize([fine])) == []
