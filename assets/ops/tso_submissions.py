"""The record of every document sent to the TSO, as an asset the bid marts can depend on."""

import warnings
from pathlib import Path

import dagster as dg

from integrations import tso_submissions as writer

#: ``ops.tso_submissions`` is written by every asset that sends CIM documents (validation
#: documents, bids) through ``integrations.tso_submissions``; it is not materialised on its own.
with warnings.catch_warnings():  # code references are beta in this Dagster; say it once
    warnings.simplefilter("ignore", dg.BetaWarning)
    _CODE = dg.CodeReferencesMetadataValue(
        code_references=[
            dg.LocalFileCodeReference(file_path=str(Path(writer.__file__)), line_number=1)
        ]
    )

tso_submissions = dg.AssetSpec(
    key=dg.AssetKey(["ops", "tso_submissions"]),
    group_name="ops",
    description=(
        "Every CIM document revision sent to the TSO (mRID, revision, kind, pool, period), its "
        "outbox file and the TSO's acknowledgement. Written by outbox/tso_validation_documents "
        "and outbox/tso_bids as they send; read by marts.fct_bids."
    ),
    owners=["team:data-platform"],
    kinds={"postgres"},
    # An external asset has no function of its own: link the module that writes the table.
    metadata={"dagster/code_references": _CODE},
)
