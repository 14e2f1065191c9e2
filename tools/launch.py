"""Keep the launch files (Binder, Colab badges and setup cells) generated from one place.

    python tools/launch.py          # rewrite binder/requirements.txt and the notebooks' Colab parts
    python tools/launch.py --check  # exit 1 if anything drifted (the tests run this)

The repository URL lives in pyproject.toml, [project.urls] Repository; a fork changes it there and
runs `make launch-files`. binder/requirements.txt is requirements.txt with torch taken from the
CPU wheel index (repo2docker would otherwise pull the CUDA build). Every notebook gets an
"Open in Colab" badge under its title and, as its first code cell, a setup cell that does
nothing locally or on Binder and, on Colab, installs chapter_rnn and only what Colab lacks.
"""
from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

import course
from paths import ROOT, course_notebooks

BINDER_REQUIREMENTS = ROOT / "binder" / "requirements.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
SETUP_TAG = "colab-setup"
BADGE_MARK = "colab-badge.svg"
# Colab already has torch, numpy, matplotlib, ipywidgets and safetensors: installing our pins
# would downgrade them (d2l-pytorch-colab#5). Install the course without dependencies, plus the
# one package Colab lacks.
COLAB_EXTRAS = ["jupyter-ui-poll>=1.0,<2"]


def repository_url() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return pyproject["project"]["urls"]["Repository"].rstrip("/")


def github_path() -> str:
    """'owner/name' of the repository URL."""
    return repository_url().split("github.com/")[1]


def colab_url(notebook: str) -> str:
    return (f"https://colab.research.google.com/github/{github_path()}/blob/main/notebooks/"
            f"{notebook}")


def binder_url(notebook: str) -> str:
    return f"https://mybinder.org/v2/gh/{github_path()}/HEAD?labpath=notebooks%2F{notebook}"


def binder_requirements() -> str:
    lines = ["# Generated from requirements.txt by tools/launch.py: do not edit.",
             "# repo2docker installs this; torch comes from the CPU wheel index.",
             f"--extra-index-url {TORCH_CPU_INDEX}"]
    for line in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("torch=="):
            line = line + "+cpu"
        if line and not line.startswith("#"):
            lines.append(line)
    return "\n".join(lines) + "\n"


def setup_cell_source() -> str:
    packages = [f"chapter-rnn @ git+{repository_url()}"] + COLAB_EXTRAS
    return (
        "# Setup for Google Colab: installs chapter_rnn there; does nothing locally or on Binder.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        "    # --no-deps: keep Colab's own torch, numpy and matplotlib, never downgrade them\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\", \"--no-deps\",\n"
        + "".join(f"                    {json.dumps(p)},\n" for p in packages[:-1])
        + f"                    {json.dumps(packages[-1])}], check=True)"
    )


def badge_line(notebook: str) -> str:
    return (f"[![Open In Colab](https://colab.research.google.com/assets/{BADGE_MARK})]"
            f"({colab_url(notebook)})")


def with_launch_cells(nb: dict, name: str) -> dict:
    """The notebook with its badge and setup cell in place (added or refreshed)."""
    cells = nb["cells"]
    title = cells[0]
    lines = [line for line in "".join(title["source"]).splitlines() if BADGE_MARK not in line]
    lines.insert(1, badge_line(name))
    title["source"] = "\n".join(lines)
    setup = {"cell_type": "code", "execution_count": None, "id": "colab-setup",
             "metadata": {"tags": [SETUP_TAG]}, "outputs": [], "source": setup_cell_source()}
    existing = [i for i, c in enumerate(cells) if SETUP_TAG in c.get("metadata", {}).get("tags", [])]
    if existing:
        old = cells[existing[0]]
        setup["execution_count"], setup["outputs"] = old.get("execution_count"), old["outputs"]
        cells[existing[0]] = setup
    else:
        cells.insert(1, setup)
    return nb


def normalise(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def expected() -> dict[Path, str]:
    files = {BINDER_REQUIREMENTS: binder_requirements()}
    for path in course_notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        files[path] = normalise(course.clean(with_launch_cells(nb, path.name)))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    drifted = []
    for path, content in expected().items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != content:
            drifted.append(path.relative_to(ROOT))
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
    if args.check and drifted:
        print("launch files out of date (run `make launch-files`): "
              + ", ".join(map(str, drifted)), file=sys.stderr)
        return 1
    for path in drifted:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
