"""Subscriptions' ids as 64-bit fingerprints: what a first pass over a read in JSON lines
keeps of each subscription (sources/stream.py), 8 bytes an id where a set of the ids
would hold some 100, to tell which may be there twice and which may be held. A
fingerprint only says "may": a match is confirmed on the ids themselves."""

import itertools
from array import array
from collections.abc import Iterable


def fingerprint(sub_id: str) -> int:
    """An id's fingerprint: its hash(), stable within one process (never stored)."""
    return hash(sub_id) & 0xFFFF_FFFF_FFFF_FFFF


class Fingerprints:
    """The fingerprints of the ids added, in 256 arrays by their first byte."""

    def __init__(self) -> None:
        self.buckets = [array("Q") for _ in range(256)]

    def add(self, sub_id: str) -> None:
        value = fingerprint(sub_id)
        self.buckets[value >> 56].append(value)

    def repeated(self) -> set[int]:
        """The fingerprints added more than once, sorted a bucket at a time."""
        found: set[int] = set()
        for bucket in self.buckets:
            found.update(a for a, b in itertools.pairwise(sorted(bucket)) if a == b)
        return found

    def may_hold(self, sub_id: str) -> bool:
        value = fingerprint(sub_id)
        return value in self.buckets[value >> 56]


def fingerprints(sub_ids: Iterable[str]) -> set[int]:
    return {fingerprint(sub_id) for sub_id in sub_ids}
