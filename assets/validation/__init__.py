"""Validation: the documents the TSO checks delivery against."""

import dagster as dg

from assets.validation.tso_documents import tso_validation_documents

defs = dg.Definitions(assets=[tso_validation_documents])
