"""Dispatch I/O: activation intake, device states and setpoints, answers to the TSO."""
