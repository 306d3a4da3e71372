"""Where a connection may point: the rules for a vendor base URL (and for Rezolve's token URL).

A stored base URL receives the vendor credentials on every call, so it is checked before it is
stored: printable ASCII, absolute, https (plain http only for loopback hosts, unless the operator
allows it with TICKETBRIDGE_ALLOW_HTTP_VENDORS), a valid host, no userinfo, query, fragment or
backslash (parsers disagree on those, which is how one URL names two hosts), and a host on the
vendor's allow-list when TICKETBRIDGE_VENDOR_HOSTS has one. `.test` hosts are not loopback: the
test suite opts in to plain http instead.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn
from urllib.parse import urlsplit

from ticketbridge.config import Settings
from ticketbridge.enums import Vendor
from ticketbridge.errors import InvalidRequest

MAX_URL_CHARS = 500
_PRINTABLE_ASCII = re.compile(r"[!-~]+")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_IPV6 = re.compile(r"[0-9a-f:.]+")


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """The operator's rules on top of the fixed ones; the defaults are the production ones."""

    allow_http: bool = False
    #: Vendor -> host patterns (`host` or `*.domain`); a vendor without patterns may point anywhere.
    hosts: Mapping[Vendor, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> SitePolicy:
        return cls(allow_http=settings.allow_http_vendors, hosts=settings.vendor_hosts)

    def check(self, vendor: Vendor, url: str, *, loc: Sequence[str] = ("body", "base_url")) -> str:
        """The URL, normalized (scheme and host lower-cased, no trailing slash); InvalidRequest
        naming `loc` when it breaks a rule. The message never repeats the URL."""
        normalized, host = _parse(url, loc)
        if normalized.startswith("http:") and not self.allow_http and not is_loopback(host):
            _refuse(loc, "plain http is accepted only for loopback hosts; use https")
        patterns = self.hosts.get(vendor)
        if patterns and not any(_matches(host, pattern) for pattern in patterns):
            _refuse(loc, f"the host is not among those allowed for {vendor} connections (TICKETBRIDGE_VENDOR_HOSTS)")
        return normalized


#: The rules with no operator settings: https, or http to loopback; any host.
PRODUCTION_SITES = SitePolicy()


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1, and `localhost` with its subdomains (which RFC 6761 reserves for loopback)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse(url: str, loc: Sequence[str]) -> tuple[str, str]:
    """(normalized URL, host) of an absolute http(s) URL that carries nothing but scheme, host,
    port and path."""
    if len(url) > MAX_URL_CHARS:
        _refuse(loc, f"at most {MAX_URL_CHARS} characters")
    if not _PRINTABLE_ASCII.fullmatch(url):
        _refuse(loc, "printable ASCII only, no spaces (IDNA-encode an international host name)")
    if "\\" in url:
        _refuse(loc, "backslashes are not allowed")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket
        _refuse(loc, "the host is not a valid host name or IP address")
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.netloc:
        _refuse(loc, "an absolute URL is required: https://host[:port][/path]")
    if "@" in parts.netloc:
        _refuse(loc, "user information (user:password@) is not allowed; credentials go in `credentials`")
    if "?" in url or "#" in url:
        _refuse(loc, "a query or a fragment is not allowed")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or parts.netloc.endswith(":"):
        _refuse(loc, "the port must be a number from 1 to 65535")
    host = parts.hostname or ""
    if not _is_valid_host(host):
        _refuse(loc, "the host is not a valid host name or IP address")
    return f"{scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}", host


def _is_valid_host(host: str) -> bool:
    if ":" in host:
        if not _IPV6.fullmatch(host):
            return False
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return False
    if labels[-1].isdigit():  # numeric top label: only a dotted-quad IPv4 address, not 127.1 or 2130706433
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
    return True


def _matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def _refuse(loc: Sequence[str], problem: str) -> NoReturn:
    raise InvalidRequest(
        f"{loc[-1]} is not an acceptable vendor URL: {problem}.",
        details=[{"loc": list(loc), "msg": problem, "type": "vendor_url"}],
    )
