"""Orchestration: the one Definitions entry point, jobs, schedules and the environment switch."""
