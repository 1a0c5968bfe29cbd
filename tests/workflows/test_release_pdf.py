"""The release form PDF: every character a Welsh or English form holds is drawn as written."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from pypdf import PdfReader

from workflows.release._pdf import printable, release_form_pdf


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def make(fields: list[tuple[str, str]], terms: str = "Use only for the stated purpose.") -> bytes:
    return release_form_pdf(organisation="Cymdeithas Tai Enghraifft", case_ref="REL-2026-000001", fields=fields,
                            recordings=[("Call 2026-01-05 10:00", "ab" * 32)], terms=terms,
                            created_at=datetime(2026, 1, 5, 11, 0, tzinfo=UTC))


def test_welsh_letters_keep_their_accents() -> None:
    text = text_of(make([("Enw'r derbynnydd", "Siôn Ŵyn Llŷr"), ("Cyfeiriad", "Tŷ Gwyn, Llanfair-ym-Muallt")]))
    for value in ("Siôn Ŵyn Llŷr", "Tŷ Gwyn, Llanfair-ym-Muallt", "Enw'r derbynnydd", "Cymdeithas Tai Enghraifft"):
        assert value in text, value


def test_punctuation_and_currency_beyond_latin1_are_drawn() -> None:
    text = text_of(make([("Notes", "“Quoted” – £20 or €25 → refund…")]))
    assert "“Quoted” – £20 or €25 → refund…" in text


def test_characters_the_font_lacks_degrade_instead_of_failing() -> None:
    assert printable("Zoë ☎ 電話") == "Zoë ? ??"
    text = text_of(make([("Notes", "call ☎ from 電話")], terms="Terms ✓"))
    assert "call ? from ??" in text and "Terms ?" in text


def test_line_breaks_in_long_answers_survive() -> None:
    text = text_of(make([("Reason", "First line.\nSecond line with Llŷr.")]))
    assert "First line. Second line with Llŷr." in text
