"""Client of the TSO's interfaces (the project's TSO simulator locally)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from integrations.http import json_int, json_object, json_objects, retrying_session, unexpected

if TYPE_CHECKING:  # lxml and the CIM code load in runs only
    from domain.cim.acknowledgement import Acknowledgement

DOCUMENTS_PATH = "/api/v1/documents"
ACTIVATIONS_PATH = "/api/v1/activations"


@dataclass(frozen=True)
class TsoAnswer:
    """The TSO's HTTP status and JSON body."""

    http_status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class DocumentAnswer:
    """The TSO's acknowledgement of a submitted document, and what it took to get it."""

    acknowledgement: Acknowledgement
    http_status: int
    attempts: int
    xml: bytes

    @property
    def accepted(self) -> bool:
        """True when the TSO fully accepted the document (reason A01)."""
        return self.acknowledgement.accepted


@dataclass(frozen=True)
class PublishedActivation:
    """One item of the TSO's activation feed: the document's exact bytes and their signature.

    ``xml`` is what ``signature`` signs (``domain.tso_signature.verify``); ``signature`` is
    None when the TSO sent none. ``document_mrid`` and ``revision`` are what the feed says,
    not yet checked against the document.
    """

    sequence: int
    document_mrid: str | None
    revision: int | None
    xml: bytes
    signature: str | None
    published_at: str | None


@dataclass(frozen=True)
class ActivationPage:
    """A page of the activation feed and the sequence to ask after next."""

    items: tuple[PublishedActivation, ...]
    next_sequence: int
    has_more: bool


def _published(item: dict[str, Any]) -> PublishedActivation:
    """One feed item; ``ValueError`` naming the field when it is not what the feed promises."""
    sequence, revision, xml = item.get("sequence"), item.get("revision"), item.get("xml")
    signature, mrid = item.get("signature"), item.get("document_mrid")
    if not isinstance(sequence, int) or isinstance(sequence, bool):
        raise ValueError(f"sequence {sequence!r} is not an integer")
    if revision is not None and (not isinstance(revision, int) or isinstance(revision, bool)):
        raise ValueError(f"revision {revision!r} is not an integer")
    if not isinstance(xml, str):
        raise ValueError(f"xml of item {sequence} is not a string")
    for name, value in (("signature", signature), ("document_mrid", mrid)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} of item {sequence} is not a string")
    published_at = item.get("published_at")
    return PublishedActivation(
        sequence=sequence,
        document_mrid=mrid,
        revision=revision,
        xml=xml.encode("utf-8", errors="surrogatepass"),
        signature=signature,
        published_at=published_at if isinstance(published_at, str) else None,
    )


class TsoUnavailableError(RuntimeError):
    """The TSO did not acknowledge a document after every attempt (the cause is chained)."""

    def __init__(self, message: str, attempts: int) -> None:
        """Keep the number of attempts beside the message."""
        super().__init__(message)
        self.attempts = attempts


class TsoClient(dg.ConfigurableResource):
    """Talks to the TSO over HTTP; a POST is retried only when it never reached the TSO."""

    base_url: str = Field(default="http://127.0.0.1:8701", description="TSO API base URL")
    timeout_s: float = Field(default=10.0, description="per-request timeout in seconds")
    document_attempts: int = Field(default=5, description="tries per document submission")
    backoff_s: float = Field(default=0.5, description="first wait between tries; doubles")
    backoff_max_s: float = Field(default=8.0, description="longest wait between tries")
    activation_page_size: int = Field(default=100, description="activations per feed page")

    def register_devices(self, registrations: list[dict[str, Any]]) -> TsoAnswer:
        """Announce devices behind their allocation point; return the TSO's answer.

        An answer without ``results`` (a list of objects) and ``answered_at`` raises
        ``UnexpectedAnswerError`` naming the URL.
        """
        response = retrying_session().post(
            f"{self.base_url.rstrip('/')}/api/v1/registrations",
            json={"registrations": registrations},
            timeout=self.timeout_s,
        )
        response.raise_for_status()
        body = json_object(response, "results", "answered_at")
        json_objects(response, body, "results")
        return TsoAnswer(response.status_code, body)

    def submit_document(self, xml: bytes, mrid: str, revision: int) -> DocumentAnswer:
        """Post a CIM document and return the TSO's acknowledgement of it.

        Connection errors, timeouts, 5xx answers and answers that are not a valid
        acknowledgement of this mRID and revision are retried with exponential backoff
        (``backoff_s``, doubling up to ``backoff_max_s``) up to ``document_attempts`` tries.
        Resending is safe: the TSO answers an identical mRID+revision with the same
        acknowledgement and never takes other content under it. A 4xx with an acknowledgement
        (a rejection) is returned, not retried; a 4xx without one raises at once.
        """
        import requests

        from domain.cim.acknowledgement import read_acknowledgement
        from integrations.cim.schemas import CimValidationError, parse_document, validate_root

        url = f"{self.base_url.rstrip('/')}{DOCUMENTS_PATH}"
        headers = {"Content-Type": "application/xml", "Accept": "application/xml"}
        problem = "no attempt made"
        with requests.Session() as session:
            for attempt in range(1, self.document_attempts + 1):
                if attempt > 1:
                    time.sleep(min(self.backoff_s * 2 ** (attempt - 2), self.backoff_max_s))
                try:
                    response = session.post(url, data=xml, headers=headers, timeout=self.timeout_s)
                except (requests.ConnectionError, requests.Timeout) as error:
                    problem = f"{type(error).__name__}: {error}"
                    continue
                if response.status_code >= 500:
                    problem = f"HTTP {response.status_code}"
                    continue
                try:
                    _, root = parse_document(response.content)
                    validate_root(root, "Acknowledgement_MarketDocument")
                    answer = read_acknowledgement(root)
                except (CimValidationError, ValueError) as error:
                    if 400 <= response.status_code < 500:
                        raise RuntimeError(
                            f"TSO refused {mrid} r{revision}: HTTP {response.status_code} "
                            f"{response.text[:200]}"
                        ) from None
                    problem = f"HTTP {response.status_code}, no valid acknowledgement: {error}"
                    continue
                received = answer.received
                if received.mrid is not None and (
                    received.mrid != mrid or received.revision not in (None, revision)
                ):
                    problem = (
                        f"acknowledgement is for {received.mrid} r{received.revision}, "
                        f"not {mrid} r{revision}"
                    )
                    continue
                return DocumentAnswer(answer, response.status_code, attempt, response.content)
        raise TsoUnavailableError(
            f"no acknowledgement for {mrid} r{revision} after {self.document_attempts} "
            f"attempts: {problem}",
            self.document_attempts,
        )

    def fetch_activations(self, after: int, limit: int | None = None) -> ActivationPage:
        """One page of the activation feed: the items published after sequence ``after``.

        Each item carries the document's bytes exactly as the TSO signed them (the feed's
        ``xml`` text, UTF-8 encoded) and its signature; nothing is parsed or verified here.
        The GET is retried on connection errors and 429/5xx; an answer that is not such a
        page raises ``UnexpectedAnswerError`` naming the URL and the problem.
        """
        response = retrying_session().get(
            f"{self.base_url.rstrip('/')}{ACTIVATIONS_PATH}",
            params={"after": after, "limit": limit or self.activation_page_size},
            timeout=self.timeout_s,
        )
        response.raise_for_status()
        page = json_object(response, "items", "next")
        raw_items = json_objects(response, page, "items")
        try:
            items = tuple(_published(item) for item in raw_items)
        except ValueError as problem:
            raise unexpected(response, f"a feed item that cannot be read: {problem}") from None
        return ActivationPage(items, json_int(response, page, "next"), page.get("has_more") is True)

    def activations_after(self, after: int) -> Iterator[PublishedActivation]:
        """Every item published after sequence ``after``, page by page, in sequence order."""
        while True:
            page = self.fetch_activations(after)
            yield from page.items
            if not page.has_more or page.next_sequence <= after:
                return
            after = page.next_sequence

    def activation_timeline(self, mrid: str | None = None) -> dict[str, Any]:
        """The TSO's record of activations and the answers it received (simulator only)."""
        params = {"mrid": mrid} if mrid is not None else {}
        response = retrying_session().get(
            f"{self.base_url.rstrip('/')}{ACTIVATIONS_PATH}/timeline",
            params=params,
            timeout=self.timeout_s,
        )
        response.raise_for_status()
        return json_object(response)
