"""ENTSO-E / IEC 62325 CIM documents the platform exchanges with the TSO: pure builders.

- ``measurement_value``: pool measurements, pool baselines and per-device measurements
  (MeasurementValue_MarketDocument 1.1);
- ``acknowledgement``: the TSO's answer (Acknowledgement_MarketDocument 8.1), built and read;
- ``reserve_bid``: the bids of one pool, market and gate (ReserveBid_MarketDocument 7.6), built
  from ``domain.bidding``'s document plans, and read back;
- ``documents``: header and content digest shared by every document;
- ``codes``, ``identifiers``, ``timing``: the codes used, mRIDs and EICs, UTC minutes and
  ISO 8601 durations.

Nothing here does I/O. Parsing untrusted XML and XSD validation live in
``integrations.cim.schemas``.
"""
