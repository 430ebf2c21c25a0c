"""A certificate as a one-page PDF (fpdf2): what it certifies, its verification code, and a QR
code (segno) linking to the public verification of that code.

Text in Latin-1 is set in the PDF core font (Helvetica: nothing embedded, about 30 ms a page);
other text in DejaVu Sans when the machine has it (embedding it costs about half a second),
else in Helvetica with '?' for what it lacks. Call `render` off the event loop. The QR code is
drawn as vector squares, not an embedded image.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from schemas.certificates import CertificateView

if TYPE_CHECKING:
    from fpdf import FPDF

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


def _font(pdf: FPDF, texts: tuple[str, ...]) -> tuple[str, bool]:
    """The font family to write `texts` with, and whether it covers Unicode."""
    if all(_latin1(t) for t in texts):
        return "Helvetica", False
    for folder in _FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdf.add_font("DejaVu", "", str(regular))
            pdf.add_font("DejaVu", "B", str(bold))
            return "DejaVu", True
    return "Helvetica", False


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def render(c: CertificateView, verify_url: str) -> bytes:
    """The certificate's PDF; `verify_url` is the absolute address the QR code links to."""
    from fpdf import FPDF  # here, not at import: it takes half a second to import, and few ask

    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(f"Certificate {c.code}")
    pdf.set_creator("Coursewright")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    family, unicode = _font(pdf, (c.student_name, c.course_title, c.org_name, verify_url))

    def text(value: str) -> str:
        return value if unicode else value.encode("latin-1", "replace").decode("latin-1")

    width = pdf.w - 40
    pdf.set_draw_color(40, 70, 120)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, pdf.w - 20, pdf.h - 20)
    pdf.set_xy(20, 28)
    pdf.set_font(family, "B", 30)
    pdf.cell(width, 14, text("Certificate of completion"), align="C")
    pdf.set_xy(20, 52)
    pdf.set_font(family, "", 14)
    pdf.cell(width, 8, text("This certifies that"), align="C")
    pdf.set_xy(20, 64)
    pdf.set_font(family, "B", 24)
    pdf.cell(width, 12, text(c.student_name or "the holder"), align="C")
    pdf.set_xy(20, 82)
    pdf.set_font(family, "", 14)
    pdf.cell(width, 8, text("completed the course"), align="C")
    pdf.set_xy(20, 94)
    pdf.set_font(family, "B", 20)
    pdf.multi_cell(width, 10, text(c.course_title), align="C")
    pdf.set_font(family, "", 12)
    pdf.set_xy(20, pdf.get_y() + 4)
    completed = c.completed_at.date().isoformat()
    pdf.cell(width, 7, text(f"revision {c.revision}, on {completed}, at {c.org_name}"), align="C")

    # The code and the QR link to its verification, bottom left and right.
    pdf.set_xy(20, pdf.h - 48)
    pdf.set_font(family, "", 11)
    pdf.cell(150, 6, text("Verification code"))
    pdf.set_xy(20, pdf.h - 41)
    pdf.set_font(family, "B", 18)
    pdf.cell(150, 9, c.code)
    pdf.set_xy(20, pdf.h - 30)
    pdf.set_font(family, "", 9)
    pdf.cell(180, 5, text(f"Verify at {verify_url}"), link=verify_url)
    _qr(pdf, verify_url, x=pdf.w - 62, y=pdf.h - 62, size=42)
    return bytes(pdf.output())


def _qr(pdf: FPDF, data: str, *, x: float, y: float, size: float) -> None:
    import segno

    qr = segno.make(data, error="m", micro=False)
    matrix = [list(row) for row in qr.matrix]
    module = size / len(matrix)
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        for col, dark in enumerate(row):
            if dark:
                pdf.rect(x + col * module, y + r * module, module, module, style="F")
    pdf.link(x, y, size, size, data)
