"""The PDF record of a completed release request and authorisation form (policy, "Release of call
recording to 3rd parties - request form & authorisation").

The text is set in DejaVu Sans, embedded from ``fonts/`` (a subset covering the Latin scripts,
Welsh ŵ and ŷ included, punctuation, currency and arrows; its licence is ``fonts/LICENSE.txt``). A
character the font lacks is printed with its accents dropped, or as ``?``, rather than failing the
release; the exact text stays in the case data and the disclosure register.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from workflows.release._form import shown

FONT = "DejaVuSans"
_FONTS = Path(__file__).with_name("fonts")


@cache
def _covered() -> frozenset[int]:
    """The code points both weights of the embedded font can draw."""
    maps = []
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        with TTFont(_FONTS / name) as font:
            maps.append(frozenset(font.getBestCmap()))
    return maps[0] & maps[1]


def printable(text: str) -> str:
    """``text`` with every character the font cannot draw replaced: by its letters without accents
    where that helps (``ǹ`` -> ``n``), else by ``?``. Line breaks and tabs are kept."""
    covered = _covered()
    out = []
    for char in text:
        if ord(char) in covered or char in "\n\t":
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        out.append(base if base and all(ord(c) in covered for c in base) else "?")
    return "".join(out)


def _document() -> FPDF:
    pdf = FPDF(format="A4")
    pdf.add_font(FONT, "", _FONTS / "DejaVuSans.ttf")
    pdf.add_font(FONT, "B", _FONTS / "DejaVuSans-Bold.ttf")
    return pdf


def release_form_pdf(*, organisation: str, case_ref: str, fields: Sequence[tuple[str, str]],
                     recordings: Sequence[tuple[str, str]], terms: str, created_at: datetime) -> bytes:
    """The form as a PDF: every field with its value, the recordings released with their SHA-256,
    the terms of release and the authorisation statement."""
    pdf = _document()
    pdf.set_title(printable(f"{case_ref}: release of call recording"))
    pdf.set_author(printable(organisation))
    pdf.set_creation_date(created_at)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.epw
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(width, 7, printable(f"{organisation}: release of call recording - request form and "
                                    "authorisation"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(width, 5, printable(f"Case {case_ref}. Produced {shown(created_at)}."), new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.ln(3)
    for label, value in fields:
        _row(pdf, label, value)
    pdf.ln(3)
    pdf.set_font(FONT, "B", 11)
    pdf.cell(width, 7, "Recordings released", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for name, sha256 in recordings:
        _row(pdf, name, f"SHA-256 {sha256}")
    pdf.ln(3)
    pdf.set_font(FONT, "B", 10)
    pdf.multi_cell(width, 5, printable(terms), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    authoriser = next((value for label, value in fields if label == "Authorised by"), "-")
    pdf.set_font(FONT, "", 10)
    pdf.ln(2)
    pdf.multi_cell(width, 5, printable(f"I, {authoriser}, authorise the release of the above recording in accordance "
                                    "with the Call Recording Policy and Procedure (Appendix 1)."),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _row(pdf: FPDF, label: str, value: str) -> None:
    label_width = 70
    pdf.set_font(FONT, "B", 9)
    y = pdf.get_y()
    pdf.multi_cell(label_width, 5, printable(label), new_x=XPos.RIGHT, new_y=YPos.TOP)
    label_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + label_width, y)
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(pdf.epw - label_width, 5, printable(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), label_bottom) + 1)
