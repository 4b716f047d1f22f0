"""Diagram files: build them in memory, write them, and check committed ones are fresh.

DOT and Mermaid are text made by this package and are byte-for-byte deterministic.
SVG, PNG and PDF are made from that same DOT by Graphviz's ``dot``; their bytes can
differ between Graphviz versions, so SVG and PNG carry the SHA-256 of the DOT they were
made from (an XML comment, a PNG text chunk) and ``check_diagrams`` compares that.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from pathway.model import Pathway
from pathway.outdir import OutputDir
from pathway.render.frequencies import Frequencies
from pathway.render.graphviz_diagram import dot_source
from pathway.render.mermaid import mermaid_source
from pathway.render.overlay import Overlay, frequency_overlay, trace_overlay
from pathway.render.view import build_view
from pathway.safe_text import course_stem
from pathway.trace import Trace

TEXT_FORMATS = {"dot": "dot", "mermaid": "mmd"}
IMAGE_FORMATS = {"svg": "svg", "png": "png", "pdf": "pdf"}
FORMATS = ("svg", "png", "pdf", "dot", "mermaid")
DEFAULT_FORMATS = ("svg", "png", "dot", "mermaid")
CHECKED_FORMATS = ("dot", "mermaid", "svg", "png")
PNG_DPI = 200
"""Sharp when the A4-landscape drawing is printed or zoomed (about 2340 x 1650 pixels)."""
A4_LANDSCAPE_PT = (841.89, 595.28)
PDF_MARGIN_PT = 28.35
"""1 cm around the drawing on the A4 page."""
DOT_TIMEOUT_S = 120
STAMP_KEY = "pathway-dot-sha256"
INSTALL_HINT = "install Graphviz (Debian/Ubuntu: apt-get install graphviz) or ask only for --format dot,mermaid"


class DotMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__(f"Graphviz 'dot' was not found on PATH: {INSTALL_HINT}")


class DotFailed(RuntimeError):
    """dot ran but refused the source; the message is dot's first line of complaint."""


def extension(fmt: str) -> str:
    return TEXT_FORMATS.get(fmt) or IMAGE_FORMATS[fmt]


def parse_formats(values: Iterable[str]) -> tuple[str, ...]:
    """'svg,png' or repeated values -> ordered, de-duplicated formats; ValueError names an unknown one."""
    chosen: list[str] = []
    for value in values:
        for item in value.split(","):
            fmt = item.strip().lower()
            if fmt == "mmd":
                fmt = "mermaid"
            if not fmt:
                raise ValueError(f"an empty format in {value!r} (choose from {', '.join(FORMATS)})")
            if fmt not in FORMATS:
                raise ValueError(f"unknown format {item.strip()!r} (choose from {', '.join(FORMATS)})")
            if fmt not in chosen:
                chosen.append(fmt)
    return tuple(chosen) or DEFAULT_FORMATS


def dot_available() -> bool:
    return shutil.which("dot") is not None


# ---------------------------------------------------------------- stamps


def digest(dot_text: str) -> str:
    return hashlib.sha256(dot_text.encode("utf-8")).hexdigest()


def stamp_svg(svg: bytes, sha: str) -> bytes:
    comment = f"<!-- {STAMP_KEY}: {sha} -->\n".encode()
    end_of_declaration = svg.find(b"?>\n")
    at = end_of_declaration + 3 if end_of_declaration >= 0 else 0
    return svg[:at] + comment + svg[at:]


def svg_stamp(svg: bytes) -> str | None:
    match = re.search(rb"<!-- " + STAMP_KEY.encode() + rb": ([0-9a-f]{64}) -->", svg[:4096])
    return match.group(1).decode() if match else None


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def stamp_png(png: bytes, sha: str, dpi: int = PNG_DPI) -> bytes:
    """Insert a pHYs chunk (the DPI, so it prints at its size) after IHDR and a tEXt chunk before IEND."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or png[-8:-4] != b"IEND" or png[12:16] != b"IHDR":
        raise DotFailed("dot did not produce a PNG")
    end_of_header = 8 + 12 + struct.unpack(">I", png[8:12])[0]
    body = _without_chunk(png[end_of_header:-12], b"pHYs")
    per_metre = round(dpi / 0.0254)
    physical = _png_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1))
    stamp = _png_chunk(b"tEXt", STAMP_KEY.encode() + b"\x00" + sha.encode())
    return png[:end_of_header] + physical + body + stamp + png[-12:]


def _without_chunk(chunks: bytes, kind: bytes) -> bytes:
    out, pos = [], 0
    while pos + 8 <= len(chunks):
        (length,) = struct.unpack(">I", chunks[pos : pos + 4])
        if chunks[pos + 4 : pos + 8] != kind:
            out.append(chunks[pos : pos + 12 + length])
        pos += 12 + length
    return b"".join(out)


def png_dpi(png: bytes) -> float | None:
    """The resolution a PNG declares (pixels per inch), or None without a pHYs chunk in metres."""
    pos = 8
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        if png[pos + 4 : pos + 8] == b"pHYs":
            x, _, unit = struct.unpack(">IIB", png[pos + 8 : pos + 17])
            return x * 0.0254 if unit == 1 else None
        pos += 12 + length
    return None


def on_a4_landscape(pdf: bytes) -> bytes:
    """dot's PDF page is the drawing's size: place it, scaled to fit and centred, on one A4 landscape page."""
    from pypdf import PageObject, PdfReader, PdfWriter, Transformation

    drawing = PdfReader(io.BytesIO(pdf)).pages[0]
    width, height = float(drawing.mediabox.width), float(drawing.mediabox.height)
    page_w, page_h = A4_LANDSCAPE_PT
    scale = min((page_w - 2 * PDF_MARGIN_PT) / width, (page_h - 2 * PDF_MARGIN_PT) / height)
    page = PageObject.create_blank_page(width=page_w, height=page_h)
    offset = ((page_w - width * scale) / 2, (page_h - height * scale) / 2)
    page.merge_transformed_page(drawing, Transformation().scale(scale).translate(*offset))
    writer = PdfWriter()
    writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_stamp(png: bytes) -> str | None:
    pos = 8
    while pos + 8 <= len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and data.startswith(STAMP_KEY.encode() + b"\x00"):
            return data.split(b"\x00", 1)[1].decode("ascii", "replace")
        pos += 12 + length
    return None


# ---------------------------------------------------------------- rendering


def render_image(dot_text: str, fmt: str) -> bytes:
    """SVG, PNG or PDF bytes from DOT source, stamped with the DOT's digest."""
    command = ["dot", f"-T{fmt}"]
    if fmt == "png":
        command.append(f"-Gdpi={PNG_DPI}")
    try:
        done = subprocess.run(command, input=dot_text.encode("utf-8"), capture_output=True, timeout=DOT_TIMEOUT_S)
    except FileNotFoundError:
        raise DotMissing() from None
    except subprocess.TimeoutExpired:
        raise DotFailed(
            f"dot -T{fmt} did not finish within {DOT_TIMEOUT_S} s: the diagram is too large to lay out"
        ) from None
    if done.returncode != 0 or not done.stdout:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DotFailed(f"dot -T{fmt} failed: {problem[0] if problem else f'exit status {done.returncode}'}")
    sha = digest(dot_text)
    if fmt == "svg":
        return stamp_svg(done.stdout, sha)
    if fmt == "png":
        return stamp_png(done.stdout, sha)
    return on_a4_landscape(done.stdout)


def sources(pathway: Pathway, overlay: Overlay | None = None) -> dict[str, str]:
    """The text sources: format -> DOT or Mermaid text."""
    view = build_view(pathway)
    return {"dot": dot_source(view, overlay), "mermaid": mermaid_source(view, overlay)}


def diagram_bytes(pathway: Pathway, formats: Sequence[str], overlay: Overlay | None = None) -> dict[str, bytes]:
    """format -> file content, in the order asked; images need dot (DotMissing otherwise)."""
    texts = sources(pathway, overlay)
    out: dict[str, bytes] = {}
    for fmt in formats:
        out[fmt] = texts[fmt].encode("utf-8") if fmt in TEXT_FORMATS else render_image(texts["dot"], fmt)
    return out


def write_files(contents: dict[str, bytes], out: OutputDir, stem: str, folder: str = "") -> list[Path]:
    """Each format's bytes to ``folder/stem.ext`` in the run's directory (atomically: see OutputDir)."""
    prefix = f"{folder}/" if folder else ""
    return [out.write_bytes(f"{prefix}{stem}.{extension(fmt)}", data) for fmt, data in contents.items()]


def write_diagrams(
    pathway: Pathway,
    out: OutputDir,
    formats: Sequence[str] = DEFAULT_FORMATS,
    overlay: Overlay | None = None,
    stem: str | None = None,
    folder: str = "",
) -> list[Path]:
    """Write the pathway's diagram (optionally with an overlay) in each format; returns the paths written."""
    return write_files(diagram_bytes(pathway, formats, overlay), out, stem or pathway.id, folder)


def trace_stem(pathway: Pathway, trace: Trace) -> str:
    """pdph-trace, or pdph-trace-<patient>[__<episode>]: distinct courses never share a file (safe_text)."""
    if trace.patient is None:
        return f"{pathway.id}-trace"
    return f"{pathway.id}-trace-{course_stem(trace.patient, trace.episode)}"


def flow_stem(pathway: Pathway) -> str:
    return f"{pathway.id}-flow"


def write_trace_diagrams(
    pathway: Pathway, trace: Trace, out: OutputDir, formats: Sequence[str] = DEFAULT_FORMATS, folder: str = ""
) -> list[Path]:
    overlay = trace_overlay(build_view(pathway), trace)
    return write_diagrams(pathway, out, formats, overlay, trace_stem(pathway, trace), folder)


def write_frequency_diagrams(
    pathway: Pathway,
    frequencies: Frequencies,
    out: OutputDir,
    formats: Sequence[str] = DEFAULT_FORMATS,
    folder: str = "",
) -> list[Path]:
    overlay = frequency_overlay(build_view(pathway), frequencies)
    return write_diagrams(pathway, out, formats, overlay, flow_stem(pathway), folder)


# ---------------------------------------------------------------- freshness


def check_diagrams(pathway: Pathway, out_dir: str | Path) -> list[str]:
    """One line per committed diagram that is missing or differs from what the definition generates."""
    directory = Path(out_dir)
    texts = sources(pathway)
    sha = digest(texts["dot"])
    problems = []
    for fmt in CHECKED_FORMATS:
        path = directory / f"{pathway.id}.{extension(fmt)}"
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        data = path.read_bytes()
        if fmt in TEXT_FORMATS:
            fresh = data == texts[fmt].encode("utf-8")
        else:
            found = svg_stamp(data) if fmt == "svg" else png_stamp(data)
            fresh = found == sha
        if not fresh:
            problems.append(f"{path}: stale (differs from what the definition generates)")
    return problems
