#!/usr/bin/env bash
# Check binder/ the way repo2docker uses it, without Docker: a fresh virtual environment built
# from binder/ alone (runtime.txt's Python, requirements.txt, postBuild), then a smoke run of
# every notebook in it. Usage: tools/check_binder.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(realpath -m "${1:-build/binder-venv}")
want=$(sed -n 's/^python-//p' binder/runtime.txt)
have=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [ "$want" != "$have" ]; then
    echo "binder/runtime.txt asks for Python $want; this machine has $have" >&2
    exit 1
fi
rm -rf "$venv"
python3 -m venv "$venv"
# Where the CPU wheel index cannot be reached (offline CI), pip skips it at once instead of
# retrying it for every package; pip's own sources still provide torch==2.13.0+cpu.
PIP_RETRIES=0 "$venv/bin/python" -m pip install -q -r binder/requirements.txt
# From here on the environment's python comes first on PATH, as in repo2docker's image;
# postBuild runs from the repository root.
export PATH="$venv/bin:$PATH"
bash binder/postBuild >/dev/null
# Import from outside the checkout, so it is the installed package that answers.
(cd / && python -c "import chapter_rnn, torch; print('binder env: torch', torch.__version__)")
python tools/course.py run --small
