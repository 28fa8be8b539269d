"""Small builders for the report's HTML: a page, sections, tables and figures.

Everything passed in as text is escaped here; image sources are paths relative
to the page, so the page and its ``figures/`` folder travel together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

STYLE = """
:root { --ink: #1d2433; --muted: #5b6478; --line: #dde2ea; --accent: #1f5fbf; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--ink); background: #f6f7f9; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 24px 0 14px; }
main, .bar { max-width: 1240px; margin: 0 auto; padding: 0 24px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 0 0 8px; font-size: 20px; }
.sub { color: var(--muted); margin: 0; }
nav { margin-top: 12px; display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 14px; }
nav a, a { color: var(--accent); text-decoration: none; }
nav a:hover, a:hover { text-decoration: underline; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
          padding: 20px 24px; margin: 20px 0; }
section > p { margin: 0 0 12px; color: var(--muted); }
figure { margin: 12px 0 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto;
             border: 1px solid var(--line); border-radius: 4px; background: #fff; }
figcaption { color: var(--muted); font-size: 14px; margin-top: 6px; }
@media (max-width: 640px) {
  header { padding-top: 16px; }
  main, .bar { padding: 0 10px; }
  section { padding: 14px 12px; margin: 12px 0; }
  /* a figure of several panels keeps legible text: it scrolls sideways in its own box */
  figure.wide > a { display: block; overflow-x: auto; }
  figure.wide img { max-width: none; width: 250%; }
}
.row { display: flex; flex-wrap: wrap; gap: 20px; }
.row > figure { flex: 1 1 420px; }
.tables { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.tables > div { flex: 1 1 340px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
.configuration table { width: auto; min-width: 50%; }
caption { text-align: left; font-weight: 600; padding: 0 0 6px; }
th, td { text-align: left; padding: 4px 10px 4px 0; border-bottom: 1px solid var(--line);
         vertical-align: top; overflow-wrap: break-word; }
td.long { overflow-wrap: anywhere; }  /* paths, digests: wrap them on a narrow screen */
td.num { font-variant-numeric: tabular-nums; }
th { color: var(--muted); font-weight: 600; }
details { margin-top: 12px; }
summary { cursor: pointer; color: var(--accent); margin-bottom: 6px; }
.note { background: #fff7e0; border: 1px solid #f0dca0; border-radius: 6px;
        padding: 8px 12px; color: #5a4a10; }
"""


LONG_WORD = 20  # characters: a value with a longer word may break anywhere in it


@dataclass(frozen=True)
class FigureSpec:
    """An image beside the page and what to look for in it."""

    src: str  # path relative to the page
    alt: str
    caption: str
    max_width: int | None = None  # CSS pixels (never wider than the page); None: as wide as it
    wide: bool = False  # several panels side by side: on a phone it scrolls, not shrinks


def figure(spec: FigureSpec) -> str:
    # min(): an inline max-width would otherwise override the stylesheet's 100%
    width = f' style="max-width: min({spec.max_width}px, 100%)"' if spec.max_width else ""
    kind = ' class="wide"' if spec.wide else ""
    return (
        f'<figure{kind}><a href="{escape(spec.src)}"><img src="{escape(spec.src)}" '
        f'alt="{escape(spec.alt)}" loading="lazy"{width}></a>'
        f"<figcaption>{escape(spec.caption)}</figcaption></figure>"
    )


def figure_row(specs: Sequence[FigureSpec]) -> str:
    return '<div class="row">' + "".join(figure(s) for s in specs) + "</div>"


def table(rows: Sequence[Sequence[str]], *, caption: str = "", headers: Sequence[str] = ()) -> str:
    """A table of text cells; cells after the first are set as numbers. On a narrow screen
    a key breaks after its dots and underscores and a long value (a path, a digest)
    anywhere."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<th>{_breakable_key(cell)}</th>" if i == 0 else _value(cell)
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    thead = f"<thead><tr>{head}</tr></thead>" if headers else ""
    return f"<div><table>{cap}{thead}<tbody>{body}</tbody></table></div>"


def _breakable_key(text: str) -> str:
    """A key that may break after its dots and underscores ("frechet_distance_train_vs_test"
    is wider than a phone's column)."""
    return escape(text).replace(".", ".<wbr>").replace("_", "_<wbr>")


def _value(text: str) -> str:
    long = max((len(word) for word in text.split()), default=0) > LONG_WORD
    return f'<td class="num{" long" if long else ""}">{escape(text)}</td>'


def tables(parts: Sequence[str]) -> str:
    return '<div class="tables">' + "".join(parts) + "</div>"


def details(summary: str, body: str) -> str:
    """A fold-out block, closed until clicked."""
    return f"<details><summary>{escape(summary)}</summary>{body}</details>"


def paragraph(text: str, *, note: bool = False, link: tuple[str, str] | None = None) -> str:
    """``text``, then ``link`` (its text, its target) and a full stop where one is given."""
    body = escape(text)
    if link is not None:
        body += f' <a href="{escape(link[1])}">{escape(link[0])}</a>.'
    return f'<p class="note">{body}</p>' if note else f"<p>{body}</p>"


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    body: str  # HTML built with the functions above


def page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole document: header with a table of contents, then the sections."""
    nav = "".join(f'<a href="#{escape(s.anchor)}">{escape(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{escape(s.anchor)}" class="{escape(s.anchor)}">'
        f"<h2>{escape(s.title)}</h2>{s.body}</section>"
        for s in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<header><div class="bar"><h1>{escape(title)}</h1>'
        f'<p class="sub">{escape(subtitle)}</p><nav>{nav}</nav></div></header>'
        f"<main>{body}</main></body></html>\n"
    )
