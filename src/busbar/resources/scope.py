"""Where a resource lives: an account and a region.

One busbar serves every account and region: a request acts in the region it was
signed for and the account of its access key (``--region`` and ``--account-id``
when unsigned).  Every resource key begins with its scope, so two regions'
``default`` buses are two resources, and quotas count per scope as in AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Scope:
    """An (account, region) pair."""

    account: str
    region: str
    # The beginning of every key of this scope's resources (made once: keys are made often).
    prefix: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", f"{self.account}/{self.region}/")

    def key(self, *parts: str) -> str:
        """The store key of a resource of this scope named by *parts*."""
        return self.prefix + "/".join(parts)


def scope_of_key(key: str) -> Scope:
    """The scope a resource key begins with."""
    account, region, _ = key.split("/", 2)
    return Scope(account, region)


def name_of_key(key: str) -> str:
    """A resource key without its scope (``bus`` or ``bus/rule``)."""
    return key.split("/", 2)[2]
