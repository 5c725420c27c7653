"""A ``requests`` session with timeouts and retries with backoff, shared by the HTTP clients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # requests loads in runs only: the code location stays cheap to import
    import requests


def retrying_session(retries: int = 3, backoff_s: float = 0.5) -> requests.Session:
    """A session that retries with exponential backoff, never resending a processed POST.

    GETs are retried on connection errors, read timeouts and on 429/500/502/503/504; other
    methods only when the connection failed before the request went out.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=retries,
        backoff_factor=backoff_s,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


class UnexpectedAnswerError(ValueError):
    """An answer that is not the JSON a client expects; the message names the request."""


def unexpected(response: requests.Response, problem: str) -> UnexpectedAnswerError:
    """The error for an answer that is not what the client expects, naming request and body."""
    method = response.request.method if response.request is not None else "?"
    start = response.content[:120]
    return UnexpectedAnswerError(
        f"{method} {response.url} answered HTTP {response.status_code}, {problem}"
        f" (body starts {start!r})"
    )


def json_object(response: requests.Response, *keys: str) -> dict[str, Any]:
    """The answer as a JSON object holding ``keys``; ``UnexpectedAnswerError`` otherwise."""
    try:
        body = response.json()
    except ValueError as error:  # requests' JSONDecodeError, also for bad UTF-8
        raise unexpected(response, f"not JSON: {error}") from None
    if not isinstance(body, dict):
        raise unexpected(response, f"a JSON {type(body).__name__}, not an object")
    missing = [key for key in keys if key not in body]
    if missing:
        raise unexpected(response, f"a JSON object without {', '.join(missing)}")
    return body


def json_int(response: requests.Response, body: dict[str, Any], key: str) -> int:
    """``body[key]`` as a JSON integer (not a boolean); ``UnexpectedAnswerError`` otherwise."""
    value = body.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise unexpected(response, f"{key} {value!r} is not an integer")
    return value


def json_objects(response: requests.Response, body: dict[str, Any], key: str) -> list[dict]:
    """``body[key]`` as a list of JSON objects; ``UnexpectedAnswerError`` otherwise."""
    value = body.get(key)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise unexpected(response, f"{key} is not a list of objects")
    return value
