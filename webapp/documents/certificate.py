"""社会保险费缴费证明 as a PDF (R-CE-4) and as page images (R-CE-6 查看).

A4 landscape, drawn straight on a reportlab canvas (platypus paragraphs cost ~5 ms a cell; a 3-page
certificate has 400 cells): the title, 证明编号 and 证明校验码, a QR code that opens 记录查验 pre-filled
on every page, 兹证明 … with the payer's name and 纳税人识别号, the table with the guide's columns
(its header repeated on each page), 合计 in figures and in capital numerals, 特此证明, the issuing
office and date, and 第 n 页 共 m 页. Chinese is drawn in an embedded subset of a CJK TrueType font.
The PDF is then encrypted with AES-256 (PDF 2.0, revision 6) by pypdf: the password opens it, and the
owner password is random and thrown away.

The page images are rendered from the same PDF (before encryption) by PDFium (pypdfium2), so what the
phone shows is exactly what the PDF prints.
"""

from __future__ import annotations

import io
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import segno
from pypdf import PdfWriter
from reportlab import rl_config
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from ..domain.calendar import format_date_zh
from ..domain.certificates import CertificateDoc, CertificateLine
from ..domain.money import format_yuan
from .fonts import DEFAULT_FONT_PATH, cjk_font

PAGE_W, PAGE_H = landscape(A4)
MARGIN = 36
TABLE_W = PAGE_W - 2 * MARGIN
#: (header, width in points); the widths add up to TABLE_W (770).
COLUMNS: tuple[tuple[str, float], ...] = (
    ("征收税务机关", 82),
    ("电子税票号码", 96),
    ("社保经办机构", 88),
    ("单位编号", 28),
    ("人员编号", 78),
    ("征收项目", 70),
    ("征收品目", 78),
    ("征收子目", 74),
    ("费款所属期\n起止", 56),
    ("入(退)库日期", 56),
    ("实缴(退)金额", 64),
)
FONT_SIZE = 8
LEADING = 10
PAD = 3
HEADER_H = 2 * LEADING + 2 * PAD
TABLE_TOP_FIRST = PAGE_H - 140
TABLE_TOP_NEXT = PAGE_H - 122
TABLE_BOTTOM = 62
CLOSING_H = 96  # 特此证明 and the issuing office under the last row
QR_SIZE = 76
INK = (0, 0, 0)
GREY = (0.42, 0.42, 0.42)
RULE = (0.25, 0.25, 0.25)
SHADE = (0.93, 0.93, 0.93)
NOTE = "注：可扫描右上角二维码，或在“记录查验”中输入纳税人识别号和证明校验码，查验本证明的真实性。"
_render_lock = threading.Lock()  # PDFium is not thread-safe
rl_config.useA85 = 0  # compressed streams stay binary: ASCII85 makes the file 25 % larger and slower to write


@dataclass(frozen=True)
class Rendered:
    """A made certificate: the encrypted PDF, the page images (PNG) and how many pages."""

    pdf: bytes
    pages: tuple[bytes, ...]

    @property
    def page_count(self) -> int:
        """Pages in the PDF."""
        return len(self.pages)


@cache
def _char_width(ch: str, font: str, size: float) -> float:
    return stringWidth(ch, font, size)


def wrap(text: str, width: float, font: str, size: float = FONT_SIZE) -> list[str]:
    """Break ``text`` into lines no wider than ``width``, character by character (Chinese has no spaces);
    a newline in ``text`` always breaks."""
    lines: list[str] = []
    for part in text.split("\n"):
        line, used = "", 0.0
        for ch in part:
            w = _char_width(ch, font, size)
            if line and used + w > width:
                lines.append(line)
                line, used = "", 0.0
            line += ch
            used += w
        lines.append(line)
    return lines


def _cells(line: CertificateLine) -> list[str]:
    return [
        line.tax_office,
        line.e_ticket_no,
        line.si_agency,
        line.unit_no,
        line.person_no,
        line.item,
        line.subject,
        line.subitem,
        line.period.replace(" 至 ", "\n至"),
        line.posted_on.isoformat(),
        format_yuan(line.amount),
    ]


def _qr_runs(url: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The QR code of ``url`` (error level M) as (size, [(row, first column, length) of dark runs]).
    The mask is fixed: scoring all eight costs 3 ms and any mask gives a valid, readable code."""
    matrix = segno.make(url, error="m", mask=4).matrix
    runs = []
    for r, row in enumerate(matrix):
        start = None
        for col in range(len(row) + 1):
            dark = col < len(row) and row[col]
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                runs.append((r, start, col - start))
                start = None
    return len(matrix), runs


def _paginate(heights: Sequence[float], closing: float) -> list[list[int]]:
    """Row indexes per page: as many as fit; the last row goes where the 合计 row and the closing fit too."""
    pages: list[list[int]] = [[]]
    top = TABLE_TOP_FIRST - HEADER_H
    for i, h in enumerate(heights):
        need = h + (closing if i == len(heights) - 1 else 0)
        if pages[-1] and top - need < TABLE_BOTTOM:
            pages.append([])
            top = TABLE_TOP_NEXT - HEADER_H
        pages[-1].append(i)
        top -= h
    return pages


class _Painter:
    """Draws one certificate on a canvas."""

    def __init__(self, c: Canvas, doc: CertificateDoc, font: str) -> None:
        self.c, self.doc, self.font = c, doc, font
        self.qr_rows = _qr_runs(doc.verify_url)
        self.queued: list[tuple[float, float, str]] = []

    def text(
        self,
        x: float,
        y: float,
        s: str,
        size: float = FONT_SIZE,
        *,
        align: str = "left",
        color: tuple[float, float, float] = INK,
    ) -> None:
        c = self.c
        c.setFillColorRGB(*color)
        c.setFont(self.font, size)
        if align == "center":
            c.drawCentredString(x, y, s)
        elif align == "right":
            c.drawRightString(x, y, s)
        else:
            c.drawString(x, y, s)

    def qr(self, x: float, top: float, size: float) -> None:
        """The QR code as filled runs of dark modules, one path."""
        n, runs = self.qr_rows
        cell = size / n
        path = self.c.beginPath()
        for r, start, length in runs:
            path.rect(x + start * cell, top - (r + 1) * cell, length * cell, cell)
        self.c.setFillColorRGB(*INK)
        self.c.drawPath(path, stroke=0, fill=1)

    def header(self, page: int, pages: int) -> None:
        doc = self.doc
        c = self.c
        # The title spaced out as printed forms are, with character spacing (not spaces), so that text
        # extraction still reads 社会保险费缴费证明 (or the region's title).
        spacing = 5.0
        title_text = doc.title
        width = stringWidth(title_text, self.font, 22) + spacing * (len(title_text) - 1)
        title = c.beginText(PAGE_W / 2 - width / 2, PAGE_H - 64)
        title.setFont(self.font, 22)
        title.setCharSpace(spacing)
        title.textOut(title_text)
        title.setCharSpace(0)  # Tc outlives the text object: reset it for everything after
        c.setFillColorRGB(*INK)
        c.drawText(title)
        c.setStrokeColorRGB(*INK)
        c.setLineWidth(0.8)
        half = width / 2 + 8
        c.line(PAGE_W / 2 - half, PAGE_H - 72, PAGE_W / 2 + half, PAGE_H - 72)
        c.line(PAGE_W / 2 - half, PAGE_H - 75, PAGE_W / 2 + half, PAGE_H - 75)
        self.text(MARGIN, PAGE_H - 98, f"证明编号：{doc.number}", 10)
        self.text(MARGIN + 250, PAGE_H - 98, f"证明校验码：{doc.check_code}", 10)
        self.text(PAGE_W - MARGIN - QR_SIZE - 12, PAGE_H - 98, f"费款所属期：{doc.period}", 10, align="right")
        self.qr(PAGE_W - MARGIN - QR_SIZE, PAGE_H - 24, QR_SIZE)
        self.text(PAGE_W - MARGIN - QR_SIZE / 2, PAGE_H - 24 - QR_SIZE - 9, "扫码查验", 7.5, align="center", color=GREY)
        if page == 1:
            self.text(
                MARGIN + 20,
                PAGE_H - 124,
                f"兹证明 {doc.payer_name}（{doc.id_type_label}，纳税人识别号：{doc.id_number}）"
                "在税务机关缴纳社会保险费情况如下：",
                11,
            )
        else:
            self.text(
                MARGIN,
                PAGE_H - 112,
                f"（续第{page - 1}页）{doc.payer_name}，纳税人识别号：{doc.id_number}",
                9,
                color=GREY,
            )
        self.text(MARGIN, 30, NOTE, 7.5, color=GREY)
        self.text(PAGE_W - MARGIN, 30, f"第 {page} 页  共 {pages} 页", 8, align="right", color=GREY)

    def width(self, s: str, size: float = FONT_SIZE) -> float:
        """The width of ``s`` from the cached character widths."""
        return sum(_char_width(ch, self.font, size) for ch in s)

    def cells(
        self, top: float, height: float, cells: Sequence[Sequence[str]], widths: Sequence[float], aligns: Sequence[str]
    ) -> None:
        """Queue one row's cell text (drawn by ``flush``, one text object per page)."""
        x: float = MARGIN
        for lines, w, align in zip(cells, widths, aligns, strict=True):
            y = top - (height - len(lines) * LEADING) / 2 - LEADING + 2
            for ln in lines:
                if align == "right":
                    at = x + w - PAD - self.width(ln)
                elif align == "center":
                    at = x + (w - self.width(ln)) / 2
                else:
                    at = x + PAD
                self.queued.append((at, y, ln))
                y -= LEADING
            x += w

    def flush(self) -> None:
        """Draw the queued cell text: one text object, one font, one colour (3× cheaper than drawString)."""
        t = self.c.beginText()
        t.setFont(self.font, FONT_SIZE)
        for x, y, s in self.queued:
            t.setTextOrigin(x, y)
            t.textOut(s)
        self.c.setFillColorRGB(*INK)
        self.c.drawText(t)
        self.queued.clear()

    def grid(self, top: float, bottom: float, row_tops: Sequence[float], widths: Sequence[float]) -> None:
        """The table's rules: the frame, a line under each row, the column lines top to bottom."""
        c = self.c
        c.setStrokeColorRGB(*RULE)
        c.setLineWidth(0.5)
        path = c.beginPath()
        path.rect(MARGIN, bottom, TABLE_W, top - bottom)
        for y in row_tops[1:]:
            path.moveTo(MARGIN, y)
            path.lineTo(MARGIN + TABLE_W, y)
        x: float = MARGIN
        for w in widths[:-1]:
            x += w
            path.moveTo(x, top)
            path.lineTo(x, bottom)
        c.drawPath(path, stroke=1, fill=0)

    def table(
        self,
        top: float,
        header: Sequence[Sequence[str]],
        rows: Sequence[Sequence[Sequence[str]]],
        heights: Sequence[float],
    ) -> float:
        """The header row (shaded) and the page's rows; returns the bottom."""
        widths = [w for _, w in COLUMNS]
        self.c.setFillColorRGB(*SHADE)
        self.c.rect(MARGIN, top - HEADER_H, TABLE_W, HEADER_H, stroke=0, fill=1)
        self.cells(top, HEADER_H, header, widths, ["center"] * len(widths))
        tops = [top]
        y = top - HEADER_H
        body_aligns = ["left"] * (len(widths) - 1) + ["right"]
        for row, h in zip(rows, heights, strict=True):
            tops.append(y)
            self.cells(y, h, row, widths, body_aligns)
            y -= h
        self.grid(top, y, tops, widths)
        return y

    def closing(self, top: float, total_height: float) -> None:
        doc = self.doc
        label_w = COLUMNS[0][1]
        amount_w = COLUMNS[-1][1]
        middle = TABLE_W - label_w - amount_w
        widths = [label_w, middle, amount_w]
        words = wrap(f"金额合计（大写）：人民币{doc.total_in_words}", middle - 2 * PAD, self.font)
        self.cells(
            top, total_height, [["合  计"], words, [f"¥{format_yuan(doc.total)}"]], widths, ["center", "left", "right"]
        )
        self.grid(top, top - total_height, [top], widths)
        self.flush()
        y = top - total_height - 28
        self.text(MARGIN + 20, y, "特此证明", 12)
        self.text(PAGE_W - MARGIN - 20, y - 24, f"开具机关：{doc.tax_office}", 11, align="right")
        self.text(PAGE_W - MARGIN - 20, y - 44, f"开具日期：{format_date_zh(doc.issued_on)}", 11, align="right")


def draw(doc: CertificateDoc, font_path: str = DEFAULT_FONT_PATH) -> bytes:
    """The certificate as an unencrypted PDF."""
    font = cjk_font(font_path)
    widths = [w for _, w in COLUMNS]
    rows = [[wrap(text, w - 2 * PAD, font) for text, w in zip(_cells(line), widths, strict=True)] for line in doc.lines]
    heights = [max(len(cell) for cell in row) * LEADING + 2 * PAD for row in rows]
    total_h = 2 * LEADING + 2 * PAD
    pages = _paginate(heights, total_h + CLOSING_H)
    buf = io.BytesIO()
    c = Canvas(
        buf, pagesize=(PAGE_W, PAGE_H), pageCompression=1, invariant=1, initialFontName=font, initialFontSize=FONT_SIZE
    )
    if doc.issued_at is not None:
        # invariant=1 keeps the file's ID stable, but would date it 2000-01-01: it is dated when it was issued
        issued = doc.issued_at
        c.setDateFormatter(lambda *_: f"D:{issued:%Y%m%d%H%M%S}+08'00'")
    c.setTitle(f"{doc.title} {doc.number}")
    c.setAuthor(doc.tax_office)
    c.setCreator("社保缴费")
    p = _Painter(c, doc, font)
    header_cells = [wrap(h, w - 2 * PAD, font) for h, w in COLUMNS]
    for n, indexes in enumerate(pages, start=1):
        p.header(n, len(pages))
        bottom = p.table(
            TABLE_TOP_FIRST if n == 1 else TABLE_TOP_NEXT,
            header_cells,
            [rows[i] for i in indexes],
            [heights[i] for i in indexes],
        )
        if n == len(pages):
            p.closing(bottom, total_h)
        p.flush()
        c.showPage()
    c.save()
    return buf.getvalue()


def encrypt(pdf: bytes, password: str) -> bytes:
    """AES-256 (revision 6) with ``password`` to open; a random owner password nobody keeps."""
    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password=password, owner_password=secrets.token_hex(16), algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_images(pdf: bytes, scale: float = 2.0) -> tuple[bytes, ...]:
    """Each page of an (unencrypted) PDF as a PNG, ``scale`` × 72 dpi (2 → 1684 × 1191 px for A4)."""
    import pypdfium2 as pdfium  # loaded only where images are made

    out = []
    with _render_lock:
        document = pdfium.PdfDocument(pdf)
        try:
            for i in range(len(document)):
                image = document[i].render(scale=scale).to_pil().convert("L")
                buf = io.BytesIO()
                image.save(buf, format="PNG", optimize=False)
                out.append(buf.getvalue())
        finally:
            document.close()
    return tuple(out)


def make_pdf(doc: CertificateDoc, font_path: str = DEFAULT_FONT_PATH) -> bytes:
    """The encrypted PDF alone (what ``make bench-cert`` times)."""
    return encrypt(draw(doc, font_path), doc.password)


def render(doc: CertificateDoc, font_path: str = DEFAULT_FONT_PATH) -> Rendered:
    """The encrypted PDF and its page images."""
    plain = draw(doc, font_path)
    return Rendered(pdf=encrypt(plain, doc.password), pages=page_images(plain))
