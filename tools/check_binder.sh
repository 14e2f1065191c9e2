#!/usr/bin/env bash
# Check binder/ the way repo2docker uses it, without Docker: a fresh virtual environment built
# from binder/ alone (runtime.txt's Python, requirements.txt, postBuild), then a smoke run of
# every notebook in it. Usage: tools/check_binder.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-build/binder-venv}
want=$(sed -n 's/^python-//p' binder/runtime.txt)
have=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
if [ "$want" != "$have" ]; then
    echo "binder/runtime.txt asks for Python $want; this machine has $have" >&2
    exit 1
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q -r binder/requirements.txt
# postBuild runs with the environment's python first on PATH, from the repository root
PATH="$PWD/$venv/bin:$PATH" bash binder/postBuild >/dev/null
"$venv/bin/python" -c "import chapter_rnn, torch; print('binder env: torch', torch.__version__)"
"$venv/bin/python" tools/course.py run --small
