"""Per-patient random streams derived from (seed, patient index).

Every patient owns a fixed block of ``SLOTS`` uniforms in a counter-based
generator (numpy's Philox, keyed by ``SeedSequence(seed)``): patient ``i``'s
block starts at counter ``i * SLOTS / 4``. A chunk of patients is therefore one
vectorised draw, and patient ``i`` gets the same numbers whatever chunk, worker
or engine computes it. Each slot has one meaning (the onset time, the first
review, the relief of the second patch, ...), so changing one parameter or the
policy does not shift any other draw: compared policies see the same patients
(common random numbers).
"""

from __future__ import annotations

import numpy as np

SLOTS = 96
"""Uniforms per patient; a multiple of 4 (Philox yields four 64-bit words per counter step)."""
_WORDS_PER_STEP = 4


class Slot:
    """Which uniform of a patient's block drives which draw."""

    CASE = 0
    PUNCTURE = 1
    CALENDAR = 2
    ONSET = 3
    PRESENT = 4
    ATYPICAL = 5
    RESOLUTION = 6
    REPORTED = 7
    FIRST_REVIEW = 8
    COMPLICATION = 9
    COMPLICATION_ONSET = 10
    NOTICE = 11
    FLAG_DELAY = 12
    IMAGING_AT_PRESENTATION = 13
    VITALS = 14  # 4 slots (params.MAX_VITALS)
    REVIEW_INTERVAL = 18  # 12 slots, one per follow-up review
    REVIEW_WORSE = 30  # 12 slots
    MAX_REVIEWS = 12
    PATCH = 42  # 4 patches x (delay, review, relief)
    MAX_PATCHES = 4
    ORDER = 54  # 8 imaging order decisions
    MAX_ORDERS = 8
    FEBRILE = 62  # febrile for a reason other than the complications
    RETURN_DELAY = 63  # from a complication's signs to the return visit, after the course ended
    SIGN = 64  # which of a complication's signs comes first
    DEBILITATING = 65  # 12 slots, one per review
    LAST = DEBILITATING + MAX_REVIEWS


assert Slot.LAST <= SLOTS
assert SLOTS % _WORDS_PER_STEP == 0


def stream_key(seed: int) -> np.ndarray:
    """The Philox key of a cohort: 128 bits hashed from the seed by SeedSequence."""
    return np.random.SeedSequence(seed).generate_state(2, np.uint64)


def patient_uniforms(seed: int, start: int, stop: int, buffer: np.ndarray | None = None) -> np.ndarray:
    """Uniforms in [0, 1) for patients ``start`` to ``stop - 1``: shape (stop - start, SLOTS).

    The result is the transpose of a slot-major array: column ``k`` (every patient's slot
    ``k``) lies contiguous in memory. The natural history reads the uniforms column by
    column, and columns of a patient-major 15 MB array are strided 768 bytes apart: each
    read would pull a whole cache line per patient from memory. The numbers are drawn
    patient by patient as the stream defines them, a few hundred patients at a time into
    a block that stays in cache, and each block is transposed into place.

    With ``buffer`` (a flat float64 array of at least ``(stop - start) * SLOTS``), the
    uniforms are written into it and the result is a view of it: no fresh 15 MB array,
    and its page faults, per chunk.
    """
    if start < 0 or stop < start:
        raise ValueError(f"bad patient range {start}..{stop}")
    counter = np.zeros(4, dtype=np.uint64)
    counter[0] = start * (SLOTS // _WORDS_PER_STEP)
    generator = np.random.Generator(np.random.Philox(key=stream_key(seed), counter=counter))
    n = stop - start
    size = n * SLOTS
    slots = (np.empty(size) if buffer is None else buffer[:size]).reshape(SLOTS, n)
    block = np.empty(min(n, _BLOCK) * SLOTS)
    for first in range(0, n, _BLOCK):
        count = min(_BLOCK, n - first)
        drawn = generator.random(out=block[: count * SLOTS])  # the stream continues from call to call
        slots[:, first : first + count] = drawn.reshape(count, SLOTS).T
    return slots.T


_BLOCK = 128
"""Patients drawn at a time: 96 KB of uniforms, transposed while in the L2 cache."""
