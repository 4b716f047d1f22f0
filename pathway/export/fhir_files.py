"""The files of the FHIR export: the definition Bundle, patient Bundles, and Bulk Data NDJSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pathway.events import Event
from pathway.export.fhir_definitions import build_export
from pathway.export.fhir_mapping import FhirMapping
from pathway.export.fhir_patient import events_by_course, patient_bundle
from pathway.export.fhir_plan import fhir_id
from pathway.export.fhirpath import ExportError
from pathway.export.output import AtomicStream, json_bytes, ndjson_line, write_atomic
from pathway.model import Pathway

BULK_TYPE = "Bundle"


def definition_file(pathway: Pathway) -> str:
    return f"Bundle-{fhir_id(pathway.id)}.json"


def definition_bytes(pathway: Pathway, mapping: FhirMapping) -> bytes:
    """The definition Bundle as written, after checking it: an export that does not validate is not written."""
    from pathway.export import fhir_validate  # pydantic models: loaded only when validating

    bundle = build_export(pathway, mapping).bundle
    found = fhir_validate.problems(bundle, mapping)
    if found:
        raise ExportError(
            f"the export does not validate: {found[0]}" + (f" (and {len(found) - 1} more)" if len(found) > 1 else "")
        )
    return json_bytes(bundle)


def patient_files(pathway: Pathway, mapping: FhirMapping, events: Sequence[Event], stem: str) -> dict[str, bytes]:
    """One pretty-printed Bundle per course (patient, or patient and episode) of a stream: patient-<id>.json."""
    from pathway.export import fhir_validate

    files: dict[str, bytes] = {}
    for (patient, episode), course in events_by_course(events, stem).items():
        bundle = patient_bundle(pathway, mapping, patient, course, episode=episode).bundle
        found = fhir_validate.problems(bundle, mapping)
        if found:
            raise ExportError(f"patient {patient}: the record does not validate: {found[0]}")
        name = f"patient-{fhir_id(patient if episode is None else f'{patient}-{episode}')}.json"
        if name in files:
            raise ExportError(f"two patients would be written to {name}")
        files[name] = json_bytes(bundle)
    return files


def write_files(out: Path, files: dict[str, bytes]) -> list[Path]:
    return [write_atomic(out / name, data) for name, data in files.items()]


def remove_bulk_dirs(out: Path) -> None:
    """Remove what an earlier simulate run wrote to fhir/ and fhir.<policy>/ (its files only)."""
    for directory in [out / "fhir", *out.glob("fhir.*")]:
        if not directory.is_dir() or directory.is_symlink():
            continue
        for entry in directory.iterdir():
            written = entry.name in (f"{BULK_TYPE}.ndjson", "manifest.json") or entry.name.endswith(".partial")
            if written and entry.is_file():
                entry.unlink()
        if not any(directory.iterdir()):
            directory.rmdir()


class BulkWriter:
    """One patient Bundle per line in ``Bundle.ndjson``, and the Bulk Data manifest beside it.

    The layout of a FHIR Bulk Data export: NDJSON files named by resource type and a
    manifest (``manifest.json``, the body of the export's completion response) listing them.
    """

    def __init__(self, out: Path, request: str) -> None:
        self.out = out
        self.request = request
        self.stream = AtomicStream(out / f"{BULK_TYPE}.ndjson")

    def write(self, bundle: dict[str, Any]) -> None:
        self.stream.write(ndjson_line(bundle))

    def write_lines(self, lines: list[str]) -> None:
        for line in lines:
            self.stream.write(line)

    def close(self, keep: bool = True) -> list[Path]:
        self.stream.close(keep)
        if not keep:
            return []
        manifest = {
            "transactionTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "request": self.request,
            "requiresAccessToken": False,
            "output": [{"type": BULK_TYPE, "url": self.stream.path.name, "count": self.stream.count}],
            "error": [],
        }
        manifest_path = write_atomic(self.out / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
        return [self.stream.path, manifest_path]
