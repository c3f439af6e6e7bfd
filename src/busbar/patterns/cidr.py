"""The ``cidr`` operator and IP-address values: parsing with AWS's messages, ranges as integers."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

# The shapes event-ruler treats as IP literals; anything else is not an address at all.
_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_QUAD = re.compile(r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})")
_IPV6 = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


class CidrSyntaxError(ValueError):
    """A CIDR EventBridge refuses; the message is AWS's reason text."""


def ip_to_int(text: str) -> tuple[int, int] | None:
    """``(version, address as int)`` if ``text`` is an IPv4/IPv6 literal, else None."""
    quad = _QUAD.fullmatch(text)
    if quad is not None:
        # Fast path for dotted quads (the common case in events); same answers as ipaddress.
        a, b, c, d = map(int, quad.groups())
        if a <= 255 and b <= 255 and c <= 255 and d <= 255:
            return 4, (a << 24) | (b << 16) | (c << 8) | d
        return None
    if _IPV4.fullmatch(text):
        return None  # a leading zero or more than three digits in some part
    if not _IPV6.fullmatch(text):
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return addr.version, int(addr)


@dataclass(frozen=True, slots=True)
class Block:
    """The addresses of one IP version from ``low`` to ``high``: a CIDR block, or one address."""

    version: int
    low: int
    high: int
    # The leading whole octets every IPv4 address of the block is written with, with their dots
    # ("10.1." for 10.1.0.0/16: an address literal has no leading zeros; at most three octets),
    # "" for IPv6 and blocks under /8.
    lead: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        whole = min(3, (32 - (self.high - self.low).bit_length()) // 8) if self.version == 4 else 0
        object.__setattr__(self, "lead", "".join(f"{(self.low >> (24 - 8 * i)) & 255}." for i in range(whole)))

    def contains(self, text: str) -> bool:
        """Is ``text`` an address (as event-ruler reads addresses) inside the block? (Text that
        does not begin with the block's leading octets is not, and is not parsed.)"""
        if not text.startswith(self.lead):
            return False
        ip = ip_to_int(text)
        return ip is not None and ip[0] == self.version and self.low <= ip[1] <= self.high

    def __str__(self) -> str:
        width = 32 if self.version == 4 else 128
        bits = width - (self.high - self.low).bit_length()
        address = ipaddress.IPv4Address(self.low) if self.version == 4 else ipaddress.IPv6Address(self.low)
        return f"{address}/{bits}"


def parse_cidr(text: str) -> Block:
    """The addresses covered by ``text`` such as ``10.0.0.0/24``."""
    # Java's split drops trailing empty strings; mimic it so "a/" counts as one part.
    parts = text.split("/")
    while parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) != 2:
        raise CidrSyntaxError("Malformed CIDR, one '/' required")
    try:
        bits = int(parts[1])
    except ValueError:
        raise CidrSyntaxError("Malformed CIDR, mask bits must be an integer") from None
    if bits < 0:
        raise CidrSyntaxError("Malformed CIDR, mask bits must not be negative")
    ip = ip_to_int(parts[0]) if (_IPV4.fullmatch(parts[0]) or _IPV6.fullmatch(parts[0])) else None
    if ip is None:
        if _IPV4.fullmatch(parts[0]) or _IPV6.fullmatch(parts[0]):
            raise CidrSyntaxError(f"Invalid IP address: {parts[0]}")
        raise CidrSyntaxError(f"Nonstandard IP address: {parts[0]}")
    version, value = ip
    width = 32 if version == 4 else 128
    if version == 4 and bits > 31:
        raise CidrSyntaxError("IPv4 mask bits must be < 32")
    if version == 6 and bits > 127:
        raise CidrSyntaxError("IPv6 mask bits must be < 128")
    host_bits = width - bits
    low = (value >> host_bits) << host_bits
    high = low | ((1 << host_bits) - 1)
    return Block(version, low, high)
