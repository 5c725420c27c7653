"""The ENTSO-E codes and identifiers the platform's CIM documents use, each with its meaning.

Codes are from the ENTSO-E code lists bundled with the schemas
(``integrations/cim/xsd/urn-entsoe-eu-wgedi-codelists.xsd``, version 91 of 2023-12-14); the
XSDs restrict every coded field to these lists.
"""

from __future__ import annotations

from dataclasses import dataclass

# --- Namespaces of the document versions the platform writes --------------------------------
MEASUREMENT_VALUE_NS = "urn:iec62325.351:tc57wg16:451-n:measurementvaluedocument:1:1"
ACKNOWLEDGEMENT_NS = "urn:iec62325.351:tc57wg16:451-1:acknowledgementdocument:8:1"

# --- Parties (EIC codes) ---------------------------------------------------------------------
# Placeholder EIC of the aggregator (well-formed, with a valid check character, but not
# registered with any issuing office). Replace it by the EIC the aggregator gets from its Local
# Issuing Office before anything is sent to the real TenneT.
AGGREGATOR_EIC_PLACEHOLDER = "10XVPPAL-DEMO-AB"
TENNET_EIC = "10X1001A1001A361"  # TenneT TSO B.V., the Dutch TSO (party EIC)
NL_AREA_EIC = "10YNL----------L"  # the Netherlands as a bidding zone / control area (area EIC)

# --- Coding schemes --------------------------------------------------------------------------
CODING_EIC = "A01"  # the id is an EIC, maintained by ENTSO-E
CODING_NL_NATIONAL = "NNL"  # the id follows a Dutch national scheme (our pool ids, pseudonyms)

# --- Market roles ----------------------------------------------------------------------------
ROLE_BSP = "A46"  # Balancing Service Provider: the aggregator, offering its pools' flexibility
ROLE_SYSTEM_OPERATOR = "A04"  # System operator: TenneT receiving and judging the documents

# --- Document (message) types ----------------------------------------------------------------
DOC_MEASUREMENT_VALUE = "A45"  # Measurement Value Document: values from measurement devices
DOC_ACKNOWLEDGEMENT = "A17"  # Acknowledgement Document

# --- Process types ---------------------------------------------------------------------------
PROCESS_REALISED = "A16"  # Realised: measured data, as opposed to forecast data
PROCESS_FORECAST = "A14"  # Forecast: data for a forecasting process (our baselines)

# --- Business types (TimeSeries) -------------------------------------------------------------
BUSINESS_AGGREGATED = "A14"  # Aggregated energy data: metered readings aggregated (the pool)
BUSINESS_METER = "A64"  # Meter Measurement data: as provided by one meter (one device)
# The code lists have no "baseline" business type. A baseline is the load profile the pool
# would have followed without activation, so it is sent as:
BUSINESS_LOAD_PROFILE = "A13"  # Load profile: a load profile calculated by the data aggregator

# --- Time series attributes ------------------------------------------------------------------
PRODUCT_ACTIVE_POWER = "8716867000016"  # Active power (energy product)
CURVE_FIXED_BLOCKS = "A01"  # Sequential fixed size block: one value per resolution step
UNIT_MW = "MAW"  # megawatt (pools)
UNIT_KW = "KWT"  # kilowatt (devices)

# --- Point quality ---------------------------------------------------------------------------
QUALITY_NOT_AVAILABLE = "A02"  # Not available: the point has no quantity (missing value)
QUALITY_INCOMPLETE = "A05"  # Incomplete: calculated from incomplete data

# --- Acknowledgement reasons -----------------------------------------------------------------
REASON_ACCEPTED = "A01"  # Message fully accepted
REASON_REJECTED = "A02"  # Message fully rejected
REASON_ID_CONFLICT = "A51"  # Message identification or version conflict (mRID+revision reused)
REASON_RECEIVER_WRONG = "A53"  # Receiving party incorrect
REASON_CANNOT_PROCESS = "A94"  # Document cannot be processed by receiving system (not valid)


@dataclass(frozen=True)
class MarketParty:
    """A sender or receiver: its id, the id's coding scheme and its market role."""

    mrid: str
    coding_scheme: str
    role: str


#: The aggregator as sender of measurement and baseline documents.
AGGREGATOR = MarketParty(AGGREGATOR_EIC_PLACEHOLDER, CODING_EIC, ROLE_BSP)
#: TenneT as receiver of those documents and sender of acknowledgements.
TENNET = MarketParty(TENNET_EIC, CODING_EIC, ROLE_SYSTEM_OPERATOR)
