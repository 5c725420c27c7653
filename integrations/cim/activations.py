"""Read activation documents from untrusted bytes: safe parse, time check, XSD, content rules.

``read_activation`` is what the platform runs on every activation the TSO publishes (after
checking its signature, ``domain.tso_signature``); ``read_activation_response`` is what the
TSO simulator runs on the aggregator's answers. Both raise ``ActivationDocumentError`` with the
document's mRID (when readable) and a reason code: ``unreadable``, ``not_an_activation``,
``naive_time``, ``unparseable_time``, ``schema``, then the content reasons of
``domain.cim.activation``.
"""

from __future__ import annotations

from lxml import etree

from domain.cim.activation import (
    ACTIVATION_KIND,
    NOT_AN_ACTIVATION,
    SCHEMA,
    UNREADABLE,
    Activation,
    ActivationDocumentError,
    activation_from_root,
    check_activation_times,
    header_identity,
)
from domain.cim.activation_response import ActivationResponse, activation_response_from_root
from integrations.cim.schemas import CimValidationError, parse_document, validate_root


def _checked_root(xml: bytes) -> etree._Element:
    try:
        kind, root = parse_document(xml)
    except CimValidationError as error:
        raise ActivationDocumentError(error.mrid, UNREADABLE, str(error)) from None
    mrid, revision = header_identity(root)
    if kind != ACTIVATION_KIND:
        raise ActivationDocumentError(
            mrid, NOT_AN_ACTIVATION, f"a {kind}, not an {ACTIVATION_KIND}", revision=revision
        )
    check_activation_times(root)
    try:
        validate_root(root, kind)
    except CimValidationError as error:
        raise ActivationDocumentError(mrid, SCHEMA, str(error), revision=revision) from None
    return root


def read_activation(xml: bytes) -> Activation:
    """The activation in ``xml`` (an Activation_MarketDocument 6.x of type A39/A40).

    Refused with ``ActivationDocumentError`` when it is not safe XML or not an activation,
    has a naive or unparseable time, is not valid against its XSD, or breaks a rule of
    ``domain.cim.activation.activation_from_root``.
    """
    return activation_from_root(_checked_root(xml))


def read_activation_response(xml: bytes) -> ActivationResponse:
    """The activation response in ``xml`` (an Activation_MarketDocument 6.x of type A41)."""
    return activation_response_from_root(_checked_root(xml))
