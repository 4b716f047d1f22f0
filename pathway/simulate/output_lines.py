"""events.jsonl lines of a chunk, from templates cached per field set.

The per-patient engine builds every event line with ``json.dumps`` and every time
with ``strftime``; here each field set's line is serialised once, by ``json.dumps``
itself, with placeholders where the time, the patient, the episode and any vital
signs go, and each line is the template's pieces joined around its values. Times
are formatted for a whole chunk at once by numpy. The bytes are the reference's
(the differential test compares the files); where a value could format
differently (a year outside 1000-9999) the reference's own function is used.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from pathway.simulate.cohort import iso
from pathway.simulate.course_arrays import Log
from pathway.simulate.field_table import FieldTable, Vital

_HOLE = "\ue000{}\ue000"  # a private-use character: never in a definition's or parameter file's text
# numpy and strftime write the same text for the years 1000 to 9999 (strftime does not pad 999)
_FIRST_MINUTE = int(np.datetime64("1000-01-01T00:00", "m").astype(np.int64))
_END_MINUTE = int(np.datetime64("9999-12-31T23:59", "m").astype(np.int64)) + 1
AT, PATIENT, EPISODE = -1, -2, -3
"""The holes of a line besides the vital signs (which are numbered from 0 by their slot)."""


MINUTES_PER_DAY = 24 * 60
_CLOCK = [f"{m // 60:02d}:{m % 60:02d}:00Z" for m in range(MINUTES_PER_DAY)]


def iso_times(minutes: np.ndarray) -> list[str]:
    """cohort.iso of each minute, for a whole array: each day's date and each minute's clock made once."""
    if not minutes.size:
        return []
    if int(minutes.min()) < _FIRST_MINUTE or int(minutes.max()) >= _END_MINUTE:
        return [iso(m) for m in minutes.tolist()]
    day, clock = np.divmod(minutes, MINUTES_PER_DAY)
    days, which = np.unique(day, return_inverse=True)
    dates = [d + "T" for d in np.datetime_as_string(days.astype("datetime64[D]")).tolist()]
    return [dates[d] + _CLOCK[m] for d, m in zip(which.ravel().tolist(), clock.tolist(), strict=True)]


Template = tuple[list[str], list[int]]
"""(text pieces, the hole between each two pieces: AT, PATIENT, EPISODE or a vital's slot)."""


def template(event: str, plan: dict[str, Any], labelled: bool) -> Template:
    """The line cohort.event_lines writes for ``plan``, cut at its holes."""
    record: dict[str, Any] = {"event": event, "at": _HOLE.format(AT), "patient": _HOLE.format(PATIENT)}
    if labelled:
        record["episode"] = _HOLE.format(EPISODE)
    record.update(
        {name: _HOLE.format(value.slot) if isinstance(value, Vital) else value for name, value in plan.items()}
    )
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    holes = [AT, PATIENT, *([EPISODE] if labelled else [])]
    holes += [value.slot for value in plan.values() if isinstance(value, Vital)]
    found = sorted((text.find(f'"{_HOLE.format(hole)}"'), hole) for hole in holes)
    if any(at < 0 for at, _ in found):
        raise ValueError(f"a field of event {event!r} hides a part of its line")
    pieces, order, rest_from = [], [], 0
    for at, hole in found:
        quote = hole in (AT, PATIENT, EPISODE)  # text goes inside the quotes, numbers replace them
        pieces.append(text[rest_from : at + 1] if quote else text[rest_from:at])
        order.append(hole)
        rest_from = at + len(f'"{_HOLE.format(hole)}"') - (1 if quote else 0)
    pieces.append(text[rest_from:] + "\n")
    return pieces, order


class EventLines:
    """Each field set's events.jsonl line, with and without an episode label, in pieces."""

    def __init__(self, event_names: Sequence[str], table: FieldTable) -> None:
        pairs = zip(table.events, table.plans, strict=True)
        self.plain = [template(event_names[e], plan, False) for e, plan in pairs]
        self.labelled = [
            template(event_names[e], plan, True) for e, plan in zip(table.events, table.plans, strict=True)
        ]
        self.simple = np.array([len(holes) == 2 for _, holes in self.plain] or [True], dtype=bool)

    def text(self, ids: list[str], sent: Log, vitals: np.ndarray, episodes: np.ndarray) -> str:
        """The events of the patients named ``ids`` in order, patient after patient (each line ends in a newline).

        A patient who came back (``episodes`` > 1) has every line labelled with its episode.
        """
        valid = sent.valid()
        rows, _ = np.nonzero(valid)
        plans = sent["plan"][valid]
        times = iso_times(sent["at"][valid])
        plain = self.plain
        out = [
            plain[p][0][0] + t + plain[p][0][1] + ids[r] + plain[p][0][2]
            for p, t, r in zip(plans.tolist(), times, rows.tolist(), strict=True)
        ]
        labelled = episodes[rows] > 1
        special = ~self.simple[plans] | labelled if plans.size else np.zeros(0, dtype=bool)
        if special.any():
            # lines with vital signs or an episode label: per template, its holes filled column by column
            episode = sent["episode"][valid]
            key = np.where(labelled, plans + len(plain), plans)
            for which in np.unique(key[special]).tolist():
                ks = np.flatnonzero(special & (key == which))
                pieces, holes = self.labelled[which - len(plain)] if which >= len(plain) else plain[which]
                fmt = "%s".join(piece.replace("%", "%%") for piece in pieces)
                columns: list[list[str]] = []
                for hole in holes:
                    if hole == AT:
                        columns.append([times[k] for k in ks.tolist()])
                    elif hole == PATIENT:
                        columns.append([ids[r] for r in rows[ks].tolist()])
                    elif hole == EPISODE:
                        columns.append([str(e) for e in episode[ks].tolist()])
                    else:
                        columns.append([repr(v) for v in vitals[rows[ks], hole].tolist()])
                for k, line in zip(ks.tolist(), (fmt % values for values in zip(*columns, strict=True)), strict=True):
                    out[k] = line
        return "".join(out)
