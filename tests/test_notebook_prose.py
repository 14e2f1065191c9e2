"""The course's prose stays true: its numbers are printed, its cross-references are links.

Rules (the unit tests at the bottom show each one on a small example):

Numbers. A number in a notebook's markdown with four or more digits ("10,000", "2{,}272",
"170580") or with a decimal point or exponent ("0.036", "1.5", "1e-3") must appear in that
notebook's code cell sources or committed outputs (stream text; text/plain, text/html and
text/markdown results).
* Thousands separators ("," and LaTeX "{,}") are ignored on both sides, and numbers are compared
  by value, so "1.50" matches "1.5", "1e-3" matches "0.001" and "10,000" matches "10000.0".
* A prose number with three or more significant digits also matches a longer printed number
  that rounds to it at the prose's last digit ("1.03" for 1.0312, "38,329" for 38329.006); a
  shorter one must be printed as written ("0.036" does not match 0.0361: too many printed
  values would match by chance). Integers round to units: "170,000" does not match 170580.
* Version-like numbers with two or more dots ("2.13.0") must appear verbatim; a version right
  after the name of its software ("Python 3.13", "ipykernel 7") is not a measurement and is
  exempt (SOFTWARE).
* Approximate numbers are exempt: APPROXIMATE (about, around, roughly, approximately, nearly,
  almost, some, under, over, ~, ≈, \\approx, \\sim) directly before the number, with at most a
  few spaces, "$", "*", "_" or "(" between. The mark also covers the end of a range written
  right after it: "about 1.3-1.5", "about 1.3 to 1.5".
* Checked everywhere in the markdown text, inline code spans and LaTeX included (a number in
  `code` is usually in a code cell too); not checked inside link targets, bare URLs and HTML
  tags. "## 1." section numbers and small integers ("35 steps") never count.
* README.md's numbers are checked against all the notebooks together and the committed files in
  README_SOURCES (the benchmark's results.json, the pinned requirements, the test bounds).
* Numbers that are true but come from elsewhere (the book's reported results) are listed, with a
  reason, in EXCEPTIONS.

Cross-references. In markdown cells and README.md (outside code spans):
* every mention of a notebook by number ("notebook 7", "Notebook 10's", "notebooks 1-7") must lie
  inside the text of a markdown link to that notebook's file: `[notebook 7](07_training.ipynb)`
  (README: `notebooks/07_training.ipynb`). A range or list is linked number by number,
  "[notebooks 1](01_data.ipynb)–[7](07_training.ipynb)", or rephrased ("the earlier notebooks").
* every relative link to a `.ipynb` file must point to a file that exists, and a link text that
  names a number ("notebook 7", "7", "07_training") must name the target file's number.
"""
import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from paths import NOTEBOOKS as NOTEBOOK_DIR
from paths import ROOT, course_notebooks

NOTEBOOKS = course_notebooks()
README = ROOT / "README.md"

# {notebook stem or "README": {number as written in the prose: why it need not be printed}}
BOOK_SEQUENTIAL = "the book's reported perplexity (sequential partitioning), not a result of ours"
BOOK_RANDOM = "the book's reported perplexity (random sampling), not a result of ours"
EXCEPTIONS: dict[str, dict[str, str]] = {
    "01_data": {"4.0": "the version of the book's licence, CC BY-SA 4.0"},
    "07_training": {"1.0": BOOK_SEQUENTIAL, "1.5": BOOK_RANDOM},
    "09_exercises": {"1.0": BOOK_SEQUENTIAL},
    "12_look_inside": {"2015": "a year of publication (Karpathy, Johnson and Fei-Fei)",
                       "2019": "a year of publication (Madsen)"},
    "README": {"1.0": BOOK_SEQUENTIAL, "1.5": BOOK_RANDOM,
               "1.0.3": "the d2l release whose pins the README discusses, not a measurement"},
}

# What README.md's numbers are checked against, besides every notebook's code and outputs.
README_SOURCES = ("bench/results.json", "requirements.txt", "requirements-colab.txt",
                  "tools/course.py")

APPROXIMATE = ("about", "around", "roughly", "approximately", "nearly", "almost", "some",
               "under", "over")
APPROX_BEFORE = re.compile(
    r"(?:(?<![\w])(?:" + "|".join(APPROXIMATE) + r")[\s$*_(]{1,4}"
    r"|(?:~|≈|\\approx|\\sim)[\s$*_({]{0,4})$",
    re.IGNORECASE,
)
SOFTWARE = ("Python", "torch", "PyTorch", "ipykernel", "ipywidgets", "JupyterLab", "Notebook",
            "numpy", "matplotlib")
VERSION_BEFORE = re.compile(r"(?<![\w])(?:" + "|".join(SOFTWARE) + r")\s+$")
RANGE_GAP = re.compile(r"\s*(?:-|–|—|to)\s*\$?$")

SEP = r"(?:,|\{,\})"
PROSE_NUMBER = re.compile(
    r"(?<![\w.])(?:"
    r"\d+(?:\.\d+)?[eE][-+−]?\d+"  # 1e-3, 2.5e4
    r"|\d+(?:\.\d+){2,}"  # a version: 2.13.0
    rf"|\d{{1,3}}(?:{SEP}\d{{3}})+(?:\.\d+)?"  # 10,000 or 2{,}272
    r"|\d+\.\d+"  # 0.036
    r"|\d{4,}"  # 170580
    r")(?![\d.]\d|\d)"
)
ANY_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
THOUSANDS = re.compile(r"(?<=\d)(?:,|\{,\})(?=\d{3}(?!\d))")

INLINE_LINK = re.compile(
    r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]"  # [label], one level of nested [] allowed
    r"\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\)"  # (target "title")
)
HTML_TAG = re.compile(r"<[^>]+>")
BARE_URL = re.compile(r"\b(?:https?|ftp)://\S+")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
HREF = re.compile(r"""href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
MENTION = re.compile(
    r"\bnotebooks?\s+(\d{1,2})\b(?:'s)?"
    r"(?:\s*(?:-|–|—|,|\band\b|\bor\b|\bto\b)\s*(\d{1,2})\b)*",
    re.IGNORECASE,
)
TEXT_NUMBER = re.compile(r"^(?:notebooks?\s+)?(\d{1,2})(?!\d)|\bnotebooks?\s+(\d{1,2})(?!\d)",
                         re.IGNORECASE)


# --- reading the files ------------------------------------------------------------------------

def read_cells(path: Path) -> list[dict]:
    """The notebook's cells, as stored."""
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def markdown_of(cells: list[dict]) -> list[str]:
    """The source of every markdown cell."""
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def code_and_outputs(cells: list[dict]) -> str:
    """Code cell sources and every textual output they committed."""
    parts = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        parts.append("".join(cell["source"]))
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                parts.append("".join(out["text"]))
            for mime in ("text/plain", "text/html", "text/markdown"):
                value = out.get("data", {}).get(mime, "")
                parts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(parts)


# --- numbers ----------------------------------------------------------------------------------

def to_decimal(text: str) -> Decimal | None:
    """The value of a number as written, separators and a unicode minus removed."""
    try:
        return Decimal(THOUSANDS.sub("", text).replace("−", "-"))
    except InvalidOperation:
        return None


def printed_values(haystack: str) -> tuple[set[Decimal], str]:
    """Every numeric value in code and outputs, and the text itself without separators."""
    flat = THOUSANDS.sub("", haystack)
    values = {v for m in ANY_NUMBER.finditer(flat) if (v := to_decimal(m.group())) is not None}
    return values, flat


def is_printed(value: Decimal, values: set[Decimal]) -> bool:
    """Printed exactly, or (given 3+ significant digits) printed longer and rounding to it."""
    if value in values:
        return True
    digits = value.as_tuple()
    if len(digits.digits) < 3 or not isinstance(digits.exponent, int):
        return False
    half_unit = Decimal(5).scaleb(digits.exponent - 1)
    return any(abs(v - value) <= half_unit for v in values)


def prose_text(markdown: str) -> str:
    """Markdown with link targets, bare URLs and HTML tags blanked out (same length)."""
    def blank(m: re.Match) -> str:
        return " " * len(m.group())

    def keep_label(m: re.Match) -> str:
        cut = m.start(2) - m.start()
        return m.group()[:cut] + " " * (len(m.group()) - cut)

    text = INLINE_LINK.sub(keep_label, markdown)
    return HTML_TAG.sub(blank, BARE_URL.sub(blank, text))


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence (list item, table row) holding text[start:end], at most ~200 characters."""
    left = max(text.rfind(s, 0, start) for s in (". ", ".\n", "\n\n", "\n* ", "\n- ", "\n#", "\n|"))
    right = [i for s in (". ", ".\n", "\n\n", "\n|") if (i := text.find(s, end)) != -1]
    left, right = left + 1 if left >= 0 else 0, min(right, default=len(text)) + 1
    if right - left > 200:
        left, right = max(left, start - 90), min(right, end + 90)
    return " ".join(text[left:right].split())


def unprinted_numbers(markdown: str, haystack: str,
                      allowed: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(number, sentence) for every prose number that is neither printed nor approximate."""
    values, flat = printed_values(haystack)
    allowed = allowed or {}
    text = prose_text(markdown)
    found, approx_end = [], -1
    for m in PROSE_NUMBER.finditer(text):
        number = m.group()
        before = text[max(0, m.start() - 20): m.start()]
        gap = text[approx_end: m.start()] if approx_end >= 0 else ""
        if APPROX_BEFORE.search(before) or (approx_end >= 0 and RANGE_GAP.fullmatch(gap)):
            approx_end = m.end()
            continue
        approx_end = -1
        if number in allowed or (number.count(".") < 2 and VERSION_BEFORE.search(before)):
            continue
        if number.count(".") >= 2:
            ok = re.search(rf"(?<![\d.]){re.escape(number)}(?![\d.]\d|\d)", flat) is not None
        else:
            ok = is_printed(to_decimal(number), values)
        if not ok:
            found.append((number, sentence_around(text, m.start(), m.end())))
    return found


# --- cross-references -------------------------------------------------------------------------

def notebook_number(target: str) -> int | None:
    """NN of a link target like `07_training.ipynb` or `notebooks/07_training.ipynb#x`."""
    m = re.match(r"(\d{2})_", Path(target.split("#")[0].split("?")[0]).name)
    return int(m.group(1)) if m else None


def is_relative(target: str) -> bool:
    """Not a URL, not site-absolute, not a bare anchor."""
    return not re.match(r"^(?:[a-z][\w+.-]*:|/|#)", target, re.IGNORECASE)


def cross_reference_problems(markdown: str, base: Path) -> list[str]:
    """Unlinked notebook mentions, broken `.ipynb` links and links whose number disagrees."""
    text = CODE_SPAN.sub(lambda m: " " * len(m.group()), markdown)
    problems: list[str] = []
    linked: list[tuple[int, int]] = []
    targets = [(m.group(1), m.group(2), m.start(1), m.end(1)) for m in INLINE_LINK.finditer(text)]
    targets += [("", m.group(1), -1, -1) for m in HREF.finditer(text)]
    for label, target, start, end in targets:
        path = target.split("#")[0].split("?")[0]
        if not path.endswith(".ipynb") or not is_relative(path):
            continue
        number = notebook_number(path)
        linked.append((start, end))
        named = TEXT_NUMBER.search(label)
        if not (base / path).exists():
            problems.append(f"link to a missing notebook: [{label}]({target})")
        elif named and int(named.group(1) or named.group(2)) != number:
            problems.append(f"link text names another notebook: [{label}]({target})")
    for m in MENTION.finditer(text):
        if m.group(2) is None and any(s <= m.start() and m.end() <= e for s, e in linked):
            continue  # inside a link's text; a wrong number is reported with the link
        context = sentence_around(markdown, m.start(), m.end())
        problems.append(f"unlinked notebook mention {m.group()!r} in: {context!r}")
    return problems


# --- the course -------------------------------------------------------------------------------

def format_numbers(name: str, found: list[tuple[str, str]]) -> str:
    """A failure message a writer can act on."""
    lines = [f"{name}: numbers in the prose that no cell prints (print them, mark them "
             f"'about ...', or list them with a reason in EXCEPTIONS):"]
    lines += [f"  {number!r} in: {sentence!r}" for number, sentence in found]
    return "\n".join(lines)


def format_links(name: str, example: str, problems: list[str]) -> str:
    """A failure message a writer can act on."""
    hint = (f"{name}: cross-references must be links to the notebook's file, e.g. "
            f"[notebook 7]({example}); link a range or list number by number, "
            f"[notebooks 1](...)–[7](...), or rephrase it without numbers:")
    return "\n  ".join([hint, *problems])


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_prose_numbers_are_printed(notebook: Path) -> None:
    cells = read_cells(notebook)
    haystack = code_and_outputs(cells)
    allowed = EXCEPTIONS.get(notebook.stem, {})
    found = [f for md in markdown_of(cells) for f in unprinted_numbers(md, haystack, allowed)]
    assert not found, format_numbers(notebook.name, found)


def test_readme_numbers_are_printed() -> None:
    haystack = "\n".join([*(code_and_outputs(read_cells(nb)) for nb in NOTEBOOKS),
                          *((ROOT / f).read_text(encoding="utf-8") for f in README_SOURCES)])
    found = unprinted_numbers(README.read_text(encoding="utf-8"), haystack,
                              EXCEPTIONS.get("README"))
    assert not found, format_numbers("README.md (against all notebooks and README_SOURCES)", found)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[nb.stem for nb in NOTEBOOKS])
def test_cross_references_are_links(notebook: Path) -> None:
    problems = [p for md in markdown_of(read_cells(notebook))
                for p in cross_reference_problems(md, NOTEBOOK_DIR)]
    assert not problems, format_links(notebook.name, "07_training.ipynb", problems)


def test_readme_cross_references_are_links() -> None:
    problems = cross_reference_problems(README.read_text(encoding="utf-8"), ROOT)
    assert not problems, format_links("README.md", "notebooks/07_training.ipynb", problems)


def test_exceptions_are_still_in_the_prose() -> None:
    prose = {nb.stem: "\n".join(markdown_of(read_cells(nb))) for nb in NOTEBOOKS}
    prose["README"] = README.read_text(encoding="utf-8")
    stale = [f"{stem}: {number}" for stem, numbers in EXCEPTIONS.items() for number in numbers
             if number not in prose.get(stem, "")]
    assert not stale, f"EXCEPTIONS lists numbers the prose no longer has: {stale}"


# --- the checkers themselves ------------------------------------------------------------------

@pytest.mark.parametrize("prose, printed", [
    ("The corpus has 170,580 characters.", "print(len(corpus))\n170580\n"),
    ("We keep the first 10{,}000 characters.", "num_tokens = 10000"),
    ("Perplexity 1.50 at the end.", "perplexity 1.5, 29092.3 tokens/sec"),
    ("Perplexity 1.03 at 29,092 tokens/s.", "perplexity 1.0312, 29092.3 tokens/sec"),
    ("A learning rate of 1e-3.", "lr = 0.001"),
    ("It scales by `0.01`.", "torch.randn(shape) * 0.01"),
    ("The corpus has about 170,000 characters.", ""),
    ("It levels off around 9.5-10 and then rises.", ""),
    ("A probability close to 1/28 ≈ 0.036.", ""),
    ("Cost: $\\approx 1.8$ GFLOP.", ""),
    ("## 1. The data, in 35 steps of 32", ""),
    ("Colab runs Python 3.13 and Notebook 6.5.", ""),
    ("See [the book](https://d2l.ai/chapter_9/rnn-scratch.html?v=1.0.2).", ""),
    ('<img src="plot.png" width="1200">', ""),
])
def test_number_checker_passes(prose: str, printed: str) -> None:
    assert unprinted_numbers(prose, printed) == []


@pytest.mark.parametrize("prose, printed, numbers", [
    ("The corpus has 170,000 characters.", "170580", ["170,000"]),
    ("Perplexity ends at 1.04.", "perplexity 1.0312", ["1.04"]),
    ("A probability of 0.036 each.", "0.0361", ["0.036"]),
    ("Tested with torch 2.13.0.", "torch 2.13.1", ["2.13.0"]),
    ("About 1.2 at first, then 1.8 later.", "", ["1.8"]),
    ("Only 1.1-1.2x faster.", "1.13 1.21", ["1.1", "1.2"]),
])
def test_number_checker_fails(prose: str, printed: str, numbers: list[str]) -> None:
    assert [n for n, _ in unprinted_numbers(prose, printed)] == numbers


def test_number_checker_reports_the_sentence_and_honours_exceptions() -> None:
    prose = "Intro.\n\nThe book reports 1.0 after training. Ours is printed."
    assert unprinted_numbers(prose, "") == [("1.0", "The book reports 1.0 after training.")]
    assert unprinted_numbers(prose, "", {"1.0": "the book's number"}) == []


@pytest.mark.parametrize("prose", [
    "As in [notebook 7](07_training.ipynb), we train.",
    "[Notebook 10](10_bptt_by_hand.ipynb)'s backward pass.",
    "(see [notebook 6](06_gradient_clipping.ipynb))",
    "Built in [notebooks 1](01_data.ipynb)–[7](07_training.ipynb).",
    "The [training notebook](07_training.ipynb) and [07_training](07_training.ipynb).",
    "This notebook, the clipping notebook, and `notebook 7` in code.",
    "[Open in Colab](https://colab.research.google.com/github/x/y/blob/main/notebooks/99_x.ipynb)",
])
def test_cross_reference_checker_passes(prose: str) -> None:
    assert cross_reference_problems(prose, NOTEBOOK_DIR) == []


@pytest.mark.parametrize("prose, problem", [
    ("As in notebook 7, we train.", "unlinked notebook mention 'notebook 7'"),
    ("Notebook 10's backward pass.", "unlinked notebook mention \"Notebook 10's\""),
    ("Built in notebooks 1-7.", "unlinked notebook mention 'notebooks 1-7'"),
    ("See [notebook 9](99_missing.ipynb).", "link to a missing notebook"),
    ("See [notebook 6](07_training.ipynb).", "link text names another notebook"),
])
def test_cross_reference_checker_fails(prose: str, problem: str) -> None:
    problems = cross_reference_problems(prose, NOTEBOOK_DIR)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_readme_links_are_relative_to_the_repository() -> None:
    assert cross_reference_problems("[notebook 7](notebooks/07_training.ipynb)", ROOT) == []
    assert cross_reference_problems("[notebook 7](07_training.ipynb)", ROOT) != []
