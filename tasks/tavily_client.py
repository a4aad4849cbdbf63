"""The Tavily seam: a small search interface and its live implementation on tavily-python."""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from tavily import BadRequestError, InvalidAPIKeyError, TavilyClient, UsageLimitExceededError
from tavily.errors import ForbiddenError
from tavily.errors import TimeoutError as TavilyTimeoutError

from domain.errors import FatalProviderError, PermanentError, RateLimitedError, TransientError
from tasks.rate_headers import StatedLimits, retry_after_seconds, stated_limits

TRANSIENT_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}


class SearchClient(Protocol):
    """Anything that can run one Tavily-style search and return the response body."""

    def search(
        self, query: str, *, search_depth: str, max_results: int, include_raw_content: bool
    ) -> dict[str, Any]:
        """Run one search; raise a ProviderError subclass on failure."""
        ...

    def stated_limits(self) -> StatedLimits | None:
        """The limits the provider stated on this thread's last response, if any."""
        ...


class TavilySearchClient:
    """Live Tavily search through the official client, with failures sorted into our error kinds."""

    def __init__(self, api_key: str, base_url: str, timeout: float, pool_size: int) -> None:
        self.base_url = base_url
        self._timeout = timeout
        # tavily-python 0.8.5 hides the status of 403/432/433 and the Retry-After of a 429;
        # a response hook on our own session records both, per thread (calls are synchronous).
        self._last = threading.local()
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 10))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.hooks["response"].append(self._remember)
        _read_environment_once(session, base_url)
        self._client = TavilyClient(api_key=api_key, api_base_url=base_url, session=session)

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.status = response.status_code
        self._last.retry_after = retry_after_seconds(response.headers)
        self._last.limits = stated_limits(response.headers)  # Tavily documents none; if any

    def stated_limits(self) -> StatedLimits | None:
        """The limits stated on this thread's last response (None: Tavily states none)."""
        return getattr(self._last, "limits", None)

    def search(
        self, query: str, *, search_depth: str, max_results: int, include_raw_content: bool
    ) -> dict[str, Any]:
        """One search, mapping each failure to Transient, Permanent or Fatal."""
        self._last.status, self._last.retry_after, self._last.limits = None, None, None
        try:
            return self._client.search(
                query,
                search_depth=search_depth,
                max_results=max_results,
                include_raw_content=include_raw_content,
                include_usage=True,  # the credits it cost, for the accounts
                timeout=self._timeout,
            )
        except UsageLimitExceededError as exc:
            raise RateLimitedError(
                f"Tavily 429 rate limited: {exc}".rstrip(": "), self._last.retry_after
            ) from None
        except InvalidAPIKeyError:
            raise FatalProviderError(
                f"Tavily rejected the API key (401) at {self.base_url}; check TAVILY_API_KEY"
            ) from None
        except ForbiddenError as exc:
            status = self._last.status
            if status == 432:
                raise FatalProviderError(
                    f"Tavily credits exhausted (432): {exc}. Completed work is saved; "
                    "run again once the plan allows"
                ) from None
            if status == 433:
                raise FatalProviderError(
                    f"Tavily pay-as-you-go spending cap reached (433): {exc}. Completed work is "
                    "saved; raise the cap and run again"
                ) from None
            raise PermanentError(f"Tavily {status or 403} forbidden: {exc}") from None
        except BadRequestError as exc:
            raise PermanentError(f"Tavily 400 bad request: {exc}") from None
        except TavilyTimeoutError:
            raise TransientError(f"Tavily timed out after {self._timeout:g}s") from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 429:
                raise RateLimitedError("Tavily 429 rate limited", self._last.retry_after) from None
            if status in TRANSIENT_STATUSES or status >= 500:
                raise TransientError(f"Tavily HTTP {status}", self._last.retry_after) from None
            raise PermanentError(f"Tavily HTTP {status}") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TransientError(f"Tavily connection failed: {type(exc).__name__}") from None
        except (json.JSONDecodeError, requests.exceptions.JSONDecodeError):
            raise TransientError("Tavily answered 200 with a body that is not valid JSON") from None
        except TypeError:
            # tavily-python raises TypeError for a 2xx other than 200 (it "raises" the response).
            raise TransientError(f"Tavily answered HTTP {self._last.status}") from None


def _read_environment_once(session: requests.Session, base_url: str) -> None:
    """The environment's proxy (HTTP(S)_PROXY, NO_PROXY) and CA bundle for `base_url`, read
    once. requests reads them anew for every request (`trust_env`), walking os.environ twice:
    a search cost 1.85 ms of CPU that way and 1.57 this way (one thread, our simulator).
    Every request goes to `base_url`, so once gives the same answer. This also skips
    ~/.netrc, whose basic auth would replace the key."""
    session.proxies.update(get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
