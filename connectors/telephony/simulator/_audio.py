"""Generated recording audio: a WAV file (8 kHz, 16-bit, mono) streamed block by block.

The sound is a cheap stand-in for speech: half-second blocks of tones at a few pitches, pauses and
a little noise, chosen by hashing the recording id and the block number, so the same recording
always yields the same bytes and a ten-minute file costs no more memory than one block.
"""

from __future__ import annotations

import functools
import math
import random
import struct
import zlib
from collections.abc import Iterator

SAMPLE_RATE = 8000
BYTES_PER_SECOND = SAMPLE_RATE * 2
BLOCK_BYTES = BYTES_PER_SECOND // 2
HEADER_BYTES = 44
CONTENT_TYPE = "audio/wav"
_PITCHES = (196.0, 220.0, 247.0, 262.0, 294.0, 330.0, 349.0)


def wav_size(duration_seconds: int) -> int:
    """Total bytes of the WAV file for a recording lasting ``duration_seconds``."""
    return HEADER_BYTES + max(1, duration_seconds) * BYTES_PER_SECOND


def iter_wav(recording_id: str, duration_seconds: int, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Yield bytes ``start`` to ``end`` (exclusive; default the whole file) of the recording's WAV."""
    total = wav_size(duration_seconds)
    end = total if end is None else min(end, total)
    data_bytes = total - HEADER_BYTES
    if start < HEADER_BYTES:
        yield _header(data_bytes)[start:end]
        start = HEADER_BYTES
    seed = zlib.crc32(recording_id.encode())
    while start < end:
        index, offset = divmod(start - HEADER_BYTES, BLOCK_BYTES)
        block = _block(_choice(seed, index))
        piece = block[offset : offset + (end - start)]
        yield piece
        start += len(piece)


def _header(data_bytes: int) -> bytes:
    return b"RIFF" + struct.pack(
        "<I4s4sIHHIIHH4sI",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        SAMPLE_RATE,
        BYTES_PER_SECOND,
        2,
        16,
        b"data",
        data_bytes,
    )


def _choice(seed: int, index: int) -> int:
    mixed = (seed ^ (index * 0x9E3779B1)) & 0xFFFFFFFF
    mixed = (mixed ^ (mixed >> 15)) * 0x2C1B3C6D & 0xFFFFFFFF
    return mixed % 12


@functools.lru_cache(maxsize=16)
def _block(kind: int) -> bytes:
    """One half-second block: 0-2 a pause, 3 noise, otherwise a tone with a soft attack and decay."""
    samples = BLOCK_BYTES // 2
    if kind <= 2:
        return bytes(BLOCK_BYTES)
    if kind == 3:
        rng = random.Random(kind)
        return struct.pack(f"<{samples}h", *(rng.randint(-600, 600) for _ in range(samples)))
    pitch = _PITCHES[(kind - 4) % len(_PITCHES)]
    values = []
    for n in range(samples):
        envelope = min(1.0, n / 400, (samples - n) / 400)
        values.append(int(6000 * envelope * math.sin(2 * math.pi * pitch * n / SAMPLE_RATE)))
    return struct.pack(f"<{samples}h", *values)
