"""policy-engine report: outcomes by status with explanations and static charts; renders in a real browser."""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine.cli import EXIT_INVALID, EXIT_OK, run

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "state.json"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _report(*extra: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    code = run(["report", str(EXAMPLE), "--backend", "native", *extra], stdout=out, stderr=err)
    assert code == EXIT_OK, err.getvalue()
    return out.getvalue()


def test_html_report_summarises_then_groups_outcomes_worst_first() -> None:
    page = _report("--org", "EXA", "--org", "EXR")
    assert page.startswith("<!DOCTYPE html>")
    assert 'id="EXA"' in page and 'id="EXR"' in page and 'id="EXB"' not in page
    assert page.index('id="summary"') < page.index('id="contents"') < page.index('<details class="organisation"')
    for card in ("breaches", "eligibility", "due", "unknowns"):
        assert f'<div class="card" id="{card}">' in page
    assert "<strong>1 of 2</strong> missed: EXA" in page  # the A&E 4-hour standard: EXA missed, EXR met
    assert "needs: uor_temporary_staffing_spend (" in page and "no data for April 2024 to March 2025" in page
    assert "on the criterion: Type 1 A&amp;E incentive criterion: the greatest level of improvement" in page
    section = page[page.index('<details class="organisation" id="EXA"') :]
    assert section.index(">Breached</span>") < section.index(">Met</span>")  # worst first
    assert '<tr class="outcome not_met" data-status="not_met" data-area="urgent-emergency-care" data-org="EXA">' in page
    assert "was 74.2%; the standard is at least 78% (16,326 of 22,012; 844 more needed)." in page
    assert "&gt;=" not in page and "param." not in page  # no formula in what a manager reads
    assert '<polyline class="series"' in page and '<line class="target"' in page  # Making Data Count charts
    assert ">A&amp;E 4-hour performance no less than 78% in March 2025 — EXA</title><desc id=" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched


def test_the_example_report_stays_a_reasonable_size() -> None:
    """Regression (issue 16): a 200-organisation report was about 12 MB; the example's page is bounded."""
    page = _report()
    assert len(page.encode()) < 1_500_000, len(page.encode())


def test_markdown_report() -> None:
    text = _report("--format", "md", "--org", "EXR")
    assert text.startswith("# Evaluation report")
    assert "## EXR" in text and "### not_met" in text
    assert "| `uec.cat2-mean-30min` | judged after 31 March 2025 |" in text


def test_report_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    out, err = io.StringIO(), io.StringIO()
    assert run(["report", str(bad)], stdout=out, stderr=err) == EXIT_INVALID
    assert out.getvalue() == "" and "'organisations' is required" in err.getvalue()


def _png_has_ink(png: bytes) -> tuple[int, int, float]:
    """(width, height, share of pixels that are not near-white), decoding the PNG by hand."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = colour = 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", data[:10])
            assert depth == 8 and colour in (2, 6)
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    inked = 0
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        inked += sum(1 for x in range(0, stride, bpp) if min(line[x], line[x + 1], line[x + 2]) < 200)
        prev = line
    return width, height, inked / (width * height)


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium on this machine (.ci/run installs it)")
def test_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    out, err = io.StringIO(), io.StringIO()
    code = run(["report", str(EXAMPLE), "--org", "EXA", "--backend", "native", "-o", str(page)], stdout=out, stderr=err)
    assert code == EXIT_OK, err.getvalue()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run([BROWSER, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert "<table" in dom.stdout and "<svg" in dom.stdout and "uec.ae-4h-78" in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run(
        [BROWSER, *flags, f"--screenshot={shot}", "--window-size=1400,1200", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    width, height, ink = _png_has_ink(shot.read_bytes())
    assert (width, height) == (1400, 1200)
    assert 0.01 < ink < 0.9, f"the screenshot looks blank or broken (ink {ink:.3f})"


_LAYOUT_CHECK = """(function(){
var out={vw:innerWidth,vh:innerHeight};
out.summaryTop=document.getElementById('summary').getBoundingClientRect().top;
out.breachesTop=document.getElementById('breaches').getBoundingClientRect().top;
var els=[].slice.call(document.querySelectorAll(
 '#summary h2,#summary h3,#summary li,#summary p,#summary th,#summary td,h1,p.meta,details.organisation>summary'));
var boxes=els.map(function(e){var r=e.getBoundingClientRect();return [r.left,r.top,r.right,r.bottom];});
var overlaps=[];
for(var i=0;i<els.length;i++)for(var j=i+1;j<els.length;j++){var a=boxes[i],c=boxes[j];
 if(a[2]<=a[0]||c[2]<=c[0])continue;
 var ox=Math.min(a[2],c[2])-Math.max(a[0],c[0]),oy=Math.min(a[3],c[3])-Math.max(a[1],c[1]);
 if(ox>1&&oy>1&&!(els[i].contains(els[j])||els[j].contains(els[i])))
  overlaps.push(els[i].textContent.slice(0,40)+' / '+els[j].textContent.slice(0,40));}
out.overlaps=overlaps.slice(0,5);out.texts=els.length;
out.docWidth=document.documentElement.scrollWidth;
out.rows=document.querySelectorAll('tr.outcome').length;
var met=document.querySelector('#filters input[data-status="met"]');met.click();
out.metHidden=[].every.call(document.querySelectorAll('tr.outcome.met'),function(r){return !r.checkVisibility();});
out.othersShown=[].some.call(document.querySelectorAll('tr.outcome:not(.met)'),function(r){return !r.hidden;});
met.click();
out.metBack=[].every.call(document.querySelectorAll('tr.outcome.met'),function(r){return !r.hidden;});
var d=document.querySelector('details.organisation'),t=d.querySelector('table');
out.closedHidden=!t.checkVisibility();d.querySelector('summary').click();out.openShown=t.checkVisibility();
d.querySelector('summary').click();out.closedAgain=!t.checkVisibility();
var pre=parent.document.createElement('pre');pre.id='check-result';pre.textContent=JSON.stringify(out);
parent.document.body.appendChild(pre);})();"""


def _browser_flags(tmp_path: Path) -> list[str]:
    return [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]


def _layout(tmp_path: Path, page: str, width: int, height: int) -> dict[str, object]:
    """The layout facts of ``page`` at a viewport of ``width`` x ``height`` (an iframe of that size,
    as headless Chromium has no window narrower than 500 px), read by a script run in the page."""
    import html as html_module
    import json

    inner = page.replace("</body>", f"<script>{_LAYOUT_CHECK}</script></body>")
    wrapper = tmp_path / f"wrap-{width}.html"
    wrapper.write_text(
        f'<!DOCTYPE html><html><body style="margin:0"><iframe width="{width}" height="{height}" '
        f'style="border:0" srcdoc="{html_module.escape(inner)}"></iframe></body></html>',
        encoding="utf-8",
    )
    dom = subprocess.run(
        [BROWSER or "chromium", *_browser_flags(tmp_path), "--window-size=1400,1000", "--dump-dom", wrapper.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    found = re.search(r'<pre id="check-result">([^<]*)</pre>', dom.stdout)
    assert found, dom.stderr[-2000:]
    result: dict[str, object] = json.loads(html_module.unescape(found.group(1)))
    return result


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium on this machine (.ci/run installs it)")
@pytest.mark.parametrize(("width", "height"), [(1280, 757), (390, 844)])
def test_report_layout_in_a_headless_browser(tmp_path: Path, width: int, height: int) -> None:
    """At desktop and phone widths: the summary is on the first screen, no text of the summary and
    headings overlaps, nothing is wider than the screen, a status filter hides its rows and shows
    them again, and an organisation's section opens and closes."""
    facts = _layout(tmp_path, _report(), width, height)
    assert facts["vw"] == width
    assert isinstance(facts["breachesTop"], float | int) and facts["breachesTop"] < height / 2, facts
    assert facts["overlaps"] == [], facts
    assert isinstance(facts["docWidth"], int) and facts["docWidth"] <= width, facts
    assert facts["rows"] == 556 and facts["metHidden"] and facts["othersShown"] and facts["metBack"], facts
    assert facts["closedHidden"] and facts["openShown"] and facts["closedAgain"], facts


_MD_SPECIALS = st.sampled_from(list("|`*_[]()#!<>&\\\n\r\t\x1b ~-+.:/ab"))
_MD_HOSTILE = st.text(_MD_SPECIALS | st.characters(), min_size=1, max_size=20)


@pytest.mark.slow
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_MD_HOSTILE, evidence=_MD_HOSTILE)
def test_the_markdown_report_shows_hostile_names_as_written(tmp_path: Path, name: str, evidence: str) -> None:
    """Regression (issue 20): the Markdown report wrote names raw (``<script>`` came out as HTML, a
    ``|`` split a table cell, brackets made links). Rendered by Python-Markdown (mkdocs' renderer,
    with tables), every name and explanation is text, shown as written (on one line, its control
    characters escaped), each heading one heading and each row three cells."""
    markdown = pytest.importorskip("markdown")
    import html as html_module
    import json
    import re

    from policy_engine.io.terminal import inline_text

    doc = {
        "as_of": "2025-04-20",
        "organisations": [
            {"id": "QA1", "type": "icb", "name": name},
            {
                "id": "RA1",
                "type": "acute_trust",
                "parent": "QA1",
                "name": f"<script>alert(1)</script>{name}",
                "facts": [
                    {
                        "name": "dig_epr_outline_business_case_completed",
                        "value": False,
                        "date": "2024-01-10",
                        "evidence": evidence,
                    }
                ],
            },
        ],
    }
    state = tmp_path / "state.json"
    state.write_text(json.dumps(doc), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert run(["report", str(state), "--format", "md", "--backend", "native"], stdout=out, stderr=err) == EXIT_OK
    page = markdown.markdown(out.getvalue(), extensions=["tables"])
    assert "<script" not in page and "<a " not in page and "<img" not in page

    def shown(text: str) -> str:
        return inline_text(re.sub(r"[\r\n\t\u2028\u2029]+", " ", text)).strip()

    headings = [html_module.unescape(h).strip() for h in re.findall(r"<h2>(.*?)</h2>", page, flags=re.S)]
    assert headings == [f"QA1 — {shown(name)}".strip(), f"RA1 — {shown('<script>alert(1)</script>' + name)}"]
    for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S):
        assert len(re.findall(r"<t[dh][ >]", row)) == 3, row
