"""Where things are in the repository, and which notebooks make up the course.

Shared by the tools (`course.py`, `sync_package.py`, `launch.py`) and the tests (pytest puts
tools/ on the import path, see pyproject.toml). A script run as `python tools/NAME.py` finds this
module because Python puts the script's own folder first on the path.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PACKAGE = ROOT / "chapter_rnn"
BUILD = ROOT / "build"
# A course notebook is `NN_name.ipynb`; it is saved into the module `chapter_rnn/name.py`.
NOTEBOOK_NAME = re.compile(r"^(\d\d)_(\w+)\.ipynb$")


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The course's notebooks in course order (by their number)."""
    return sorted(p for p in folder.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name))


def module_name(notebook: Path) -> str:
    """The package module a course notebook's #@save cells go into: 07_training -> training."""
    match = NOTEBOOK_NAME.match(notebook.name)
    if match is None:
        raise ValueError(f"{notebook.name} is not a course notebook (NN_name.ipynb)")
    return match.group(2)
