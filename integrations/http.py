"""A ``requests`` session with timeouts and retries with backoff, shared by the HTTP clients."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # requests loads in runs only: the code location stays cheap to import
    import requests


def retrying_session(retries: int = 3, backoff_s: float = 0.5) -> requests.Session:
    """A session that retries with exponential backoff, never resending a processed POST.

    GETs are retried on connection errors and on 429/502/503/504; other methods only when the
    connection failed before the request went out.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=retries,
        backoff_factor=backoff_s,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session
