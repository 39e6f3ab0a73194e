"""Is a host name or address loopback? (Relaxed rules apply only to the local machine.)"""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = (host or "").strip().strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str | None) -> str:
    """The host of a ``Host`` header or URL authority, lower case, without port or brackets."""
    value = (header or "").strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def host_allowed(header: str | None, allowed: frozenset[str]) -> bool:
    """May a request with this ``Host`` header be answered? Loopback names always; other
    names only when configured, so a page on another domain that resolves to this machine
    (DNS rebinding) is refused. No header at all (HTTP/1.0 health checks) is not a browser."""
    if header is None or not header.strip():
        return True
    name = host_name(header)
    return is_loopback_host(name) or name in allowed
