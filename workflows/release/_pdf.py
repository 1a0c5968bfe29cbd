"""The PDF record of a completed release request and authorisation form (policy, "Release of call
recording to 3rd parties - request form & authorisation").

fpdf2's core fonts cover Latin-1 only; text outside it (Welsh ŵ and ŷ, for instance) is printed
with its accents dropped rather than failing the release. The exact text stays in the case data
and the disclosure register.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from workflows.release._form import shown


def latin1(text: str) -> str:
    """``text`` in Latin-1: accents outside it dropped (``ŵ`` -> ``w``), anything else as ``?``."""
    out = []
    for char in text:
        try:
            char.encode("latin-1")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
            out.append("".join(c for c in base if not unicodedata.combining(c)) or "?")
    return "".join(out)


def release_form_pdf(*, organisation: str, case_ref: str, fields: Sequence[tuple[str, str]],
                     recordings: Sequence[tuple[str, str]], terms: str, created_at: datetime) -> bytes:
    """The form as a PDF: every field with its value, the recordings released with their SHA-256,
    the terms of release and the authorisation statement."""
    pdf = FPDF(format="A4")
    pdf.set_title(latin1(f"{case_ref}: release of call recording"))
    pdf.set_author(latin1(organisation))
    pdf.set_creation_date(created_at)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.epw
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(width, 7, latin1(f"{organisation}: release of call recording - request form and "
                                    "authorisation"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(width, 5, latin1(f"Case {case_ref}. Produced {shown(created_at)}."), new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.ln(3)
    for label, value in fields:
        _row(pdf, label, value)
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(width, 7, "Recordings released", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for name, sha256 in recordings:
        _row(pdf, name, f"SHA-256 {sha256}")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 10)
    pdf.multi_cell(width, 5, latin1(terms), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    authoriser = next((value for label, value in fields if label == "Authorised by"), "-")
    pdf.set_font("Helvetica", "", 10)
    pdf.ln(2)
    pdf.multi_cell(width, 5, latin1(f"I, {authoriser}, authorise the release of the above recording in accordance "
                                    "with the Call Recording Policy and Procedure (Appendix 1)."),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _row(pdf: FPDF, label: str, value: str) -> None:
    label_width = 70
    pdf.set_font("Helvetica", "B", 9)
    y = pdf.get_y()
    pdf.multi_cell(label_width, 5, latin1(label), new_x=XPos.RIGHT, new_y=YPos.TOP)
    label_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + label_width, y)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(pdf.epw - label_width, 5, latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), label_bottom) + 1)
