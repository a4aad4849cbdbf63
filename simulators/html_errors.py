"""HTML error pages as served by the proxies in front of real APIs (502/503/504)."""

from __future__ import annotations

from http import HTTPStatus


def proxy_error_page(status: int) -> str:
    """An nginx/Cloudflare-style HTML body for a gateway-level error."""
    phrase = {504: "Gateway Time-out"}.get(status) or HTTPStatus(status).phrase
    return (
        "<html>\r\n"
        f"<head><title>{status} {phrase}</title></head>\r\n"
        "<body>\r\n"
        f"<center><h1>{status} {phrase}</h1></center>\r\n"
        "<hr><center>cloudflare</center>\r\n"
        "</body>\r\n"
        "</html>\r\n"
    )
