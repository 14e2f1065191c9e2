"""Run the course headless, and keep the committed notebooks clean.

    python tools/course.py run              # every notebook, the book's parameters -> build/executed
    python tools/course.py run --small      # the same with small parameters (a smoke run)
    python tools/course.py run --device cuda --check   # fail if the book's perplexities are missed
    python tools/course.py commit-outputs   # run, then write the outputs back into notebooks/
    python tools/course.py clean            # strip execution noise from notebooks/ in place

`run` ends by printing, for each training run, its final perplexity, tokens/s and the text it
generated from "time traveller". Notebooks execute with papermill in a fresh kernel each, with
CHAPTER_RNN_HEADLESS=1 so the training dashboard prints plain lines instead of widgets.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from unittest import mock

from paths import BUILD, NOTEBOOKS, course_notebooks

EXECUTED = BUILD / "executed"

# Parameters for smoke runs (tests, quick checks): same code paths, seconds instead of minutes.
SMALL_PARAMETERS: dict[str, dict] = {
    "05_prediction": {"trained_hiddens": 16, "num_epochs": 2, "num_seeds": 2},
    "06_gradient_clipping": {"num_hiddens": 64, "num_minibatches": 5, "num_epochs": 2,
                             "num_seeds": 2},
    "07_training": {"num_hiddens": 32, "num_epochs": 3, "extra_seeds": [2],
                    "checkpoint_dir": "../build/smoke/checkpoints"},
    "08_playground": {"num_hiddens": 32, "num_epochs": 3, "demo_epochs": 1,
                      "checkpoint_path": "../build/smoke/checkpoints/sequential.safetensors",
                      "save_path": "../build/smoke/checkpoints/playground.safetensors"},
    "09_exercises": {"seeds": [1, 2], "num_hiddens": 16, "num_epochs": 2, "eval_every": 1,
                     "sweep_epochs": 2, "sweep": [{"num_hiddens": 16, "num_steps": 10, "lr": 2.0}],
                     "num_samples": 20, "sample_chars": 100, "no_clip_epochs": 2,
                     "no_detach_epochs": 1},
    "10_bptt_by_hand": {"num_hiddens": 16, "num_steps": 6},
    "11_fast_path": {"num_hiddens": 32, "num_epochs": 2, "repeats": 2, "profile_repeats": 3},
    "12_look_inside": {"checkpoint_dir": "../build/smoke/no-checkpoints", "seeds": [1, 2],
                       "num_hiddens": 16, "num_epochs": 2, "passage_chars": 200,
                       "num_positions": 10, "max_distance": 40},
}
# The book's perplexities after 500 epochs are 1.0 and 1.5; the course must reach these bounds.
BOOK_BOUNDS = {"sequential": 1.1, "random": 1.6}
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
TRAINING_TAG_PREFIX = "train-"


def declared_parameters(notebook: Path) -> set[str]:
    """Names the notebook's papermill `parameters` cell assigns."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def execute(notebook: Path, output: Path, parameters: dict | None = None,
            timeout: int = 1800) -> dict:
    """Execute `notebook` with papermill into `output`; return the executed notebook as JSON."""
    import papermill

    output.parent.mkdir(parents=True, exist_ok=True)
    # The kernel inherits this process's environment: headless, plain progress lines.
    with mock.patch.dict(os.environ, {"CHAPTER_RNN_HEADLESS": "1"}):
        papermill.execute_notebook(
            str(notebook), str(output), parameters=parameters or {}, kernel_name="python3",
            cwd=str(notebook.parent), progress_bar=False, execution_timeout=timeout)
    return json.loads(output.read_text(encoding="utf-8"))


def cell_text(cell: dict) -> str:
    """Everything a code cell printed (stdout, and text/plain of its results)."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream" and out["name"] == "stdout":
            parts.append("".join(out["text"]))
        elif out["output_type"] in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "text/plain" in data and "image/png" not in data:
                parts.append("".join(data["text/plain"]) + "\n")
    return "".join(parts)


def training_results(executed: dict) -> dict[str, str]:
    """The final report of every cell tagged `train-*`: summary and generated text."""
    results = {}
    for cell in executed["cells"]:
        for tag in cell.get("metadata", {}).get("tags", []):
            if tag.startswith(TRAINING_TAG_PREFIX):
                lines = [line for line in cell_text(cell).splitlines()
                         if line and not line.startswith("epoch ")]
                results[tag[len(TRAINING_TAG_PREFIX):]] = "\n".join(lines)
    return results


def final_perplexity(report: str) -> float:
    """The perplexity in a training report's summary line ('perplexity 1.03, ...',
    'perplexity 3.6e+166, ...')."""
    match = re.search(r"^perplexity (\d+(?:\.\d+)?(?:e[+-]\d+)?|inf),", report, re.MULTILINE)
    if match is None:
        raise ValueError(f"no perplexity summary in this training report:\n{report}")
    return float(match.group(1))


def missed_bounds(executed: dict[str, dict]) -> list[str]:
    """The book's perplexity bounds that the training notebook's runs did not reach."""
    results = training_results(executed["07_training"])
    return [f"{name}: perplexity {final_perplexity(results[name])} > {bound}"
            for name, bound in BOOK_BOUNDS.items() if final_perplexity(results[name]) > bound]


def clean(nb: dict) -> dict:
    """Drop execution noise: keep sources, outputs and tags; number executed cells 1, 2, ..."""
    nb["metadata"] = {"kernelspec": KERNELSPEC,
                      "language_info": {"name": "python", "pygments_lexer": "ipython3"}}
    nb["cells"] = [c for c in nb["cells"]
                   if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    count = 0
    for cell in nb["cells"]:
        # on disk, as Jupyter writes it: a list of lines (keeps diffs line by line)
        source = "".join(cell["source"])
        cell["source"] = source.splitlines(keepends=True)
        tags = cell.get("metadata", {}).get("tags", [])
        cell["metadata"] = {"tags": tags} if tags else {}
        if cell["cell_type"] != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        if cell.get("execution_count") is not None:
            count += 1
            cell["execution_count"] = count
        cell["outputs"] = merged_streams(cell.get("outputs", []))
        for out in cell["outputs"]:
            if "execution_count" in out:
                out["execution_count"] = cell["execution_count"]
            if out["output_type"] in ("display_data", "execute_result"):
                # widget views need live widget state, which we never commit; text stays
                out["data"].pop("application/vnd.jupyter.widget-view+json", None)
    nb.setdefault("nbformat", 4)
    nb["nbformat_minor"] = max(nb.get("nbformat_minor", 5), 5)
    return nb


def merged_streams(outputs: list[dict]) -> list[dict]:
    """Join consecutive chunks of the same stream, as a front end shows them: the kernel may
    split one print into several chunks, which GitHub and nbconvert would show on two lines."""
    merged = []
    for out in outputs:
        previous = merged[-1] if merged else None
        if (out["output_type"] == "stream" and previous is not None
                and previous["output_type"] == "stream" and previous["name"] == out["name"]):
            text = "".join(previous["text"]) + "".join(out["text"])
            previous["text"] = text.splitlines(keepends=True)
        else:
            merged.append(out)
    return merged


def write_notebook(nb: dict, path: Path) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def run(small: bool, device: str | None, only: list[str] | None = None) -> dict[str, dict]:
    executed = {}
    for notebook in course_notebooks():
        if only and not any(notebook.stem.startswith(o) for o in only):
            continue
        parameters = dict(SMALL_PARAMETERS.get(notebook.stem, {})) if small else {}
        if device and "device" in declared_parameters(notebook):
            parameters["device"] = device
        print(f"running {notebook.name} {parameters or ''}", flush=True)
        start = time.perf_counter()
        executed[notebook.stem] = execute(notebook, EXECUTED / notebook.name, parameters)
        print(f"  done in {time.perf_counter() - start:.0f}s", flush=True)
    return executed


def report(executed: dict[str, dict]) -> None:
    print("\n=== training runs ===")
    for stem, nb in executed.items():
        for run_name, text in training_results(nb).items():
            print(f"\n[{stem}: {run_name}]\n{text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "commit-outputs"):
        p = sub.add_parser(name)
        p.add_argument("--small", action="store_true", help="small parameters (smoke run)")
        p.add_argument("--device", help="e.g. cpu or cuda (default: a GPU when present)")
        p.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 07")
        p.add_argument("--check", action="store_true",
                       help="fail unless the training runs reach the book's perplexities")
    sub.add_parser("clean")
    args = parser.parse_args()
    if args.command == "clean":
        for notebook in course_notebooks():
            write_notebook(clean(json.loads(notebook.read_text(encoding="utf-8"))), notebook)
        return 0
    executed = run(args.small, args.device, args.only)
    if args.command == "commit-outputs":
        if args.small:
            parser.error("commit-outputs writes the book's full-parameter run; drop --small")
        for stem, nb in executed.items():
            write_notebook(clean(nb), NOTEBOOKS / f"{stem}.ipynb")
    report(executed)
    if args.check:
        missed = missed_bounds(executed)
        print("\n" + ("\n".join(missed) if missed else
                      f"the book's perplexities are reached: {BOOK_BOUNDS}"))
        return 1 if missed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
