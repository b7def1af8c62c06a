"""The server's request ids are RFC 9562 UUIDv7s: unique, stamped with the time they
were made, and in order, so the log's request-id index grows at its right edge."""

from __future__ import annotations

import time
import uuid

import pytest

from prodml.serve.request_ids import ARRAYS_FROM, new_ids


@pytest.mark.parametrize("count", [ARRAYS_FROM - 1, 100])  # made by Python, by numpy
def test_ids_are_unique_version_7_uuids_stamped_with_the_time(count: int) -> None:
    before = time.time_ns() // 1_000_000
    made = [new_ids(count) for _ in range(200)]
    after = time.time_ns() // 1_000_000

    texts = [text for batch in made for text in batch]
    ids = [uuid.UUID(text) for text in texts]
    assert len(set(ids)) == 200 * count
    assert {(i.version, i.variant) for i in ids} == {(7, uuid.RFC_4122)}
    stamps = [i.int >> 80 for i in ids]  # unix_ts_ms: the first 48 bits
    assert before <= min(stamps) and max(stamps) <= after
    assert stamps == sorted(stamps)  # later calls never go back in time
    assert all(batch == sorted(batch) for batch in made)
    assert all(str(i) == text for i, text in zip(ids, texts, strict=True))


def test_the_random_bits_vary() -> None:
    """74 random bits an id: in 20,000 ids every one of them takes both values."""
    ids = [uuid.UUID(text).int for _ in range(200) for text in new_ids(100)]
    fixed = (0xF << 76) | (0x3 << 62)  # version and variant
    random_bits = [b for b in range(80) if not fixed >> b & 1]
    assert len(random_bits) == 74
    for bit in random_bits:
        ones = sum(value >> bit & 1 for value in ids)
        assert 9_000 < ones < 11_000, bit


def test_no_two_ids_share_their_random_bytes_across_pool_refills() -> None:
    """The kernel's bytes are read 64 KiB at a time: 20,000 ids of 10 bytes cross three
    refills, and a byte handed out twice would make two ids share their random part."""
    ids = [uuid.UUID(text).int for _ in range(10) for text in new_ids(2_000)]
    parts = {value & ((1 << 80) - 1) for value in ids}
    assert len(parts) == len(ids)
