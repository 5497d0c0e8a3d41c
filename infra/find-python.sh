#!/usr/bin/env bash
# Prints a Python interpreter for the virtual environment: the Lambda runtime's
# version (3.12) when this machine has it, so local runs match AWS; else python3 (3.11+).
set -euo pipefail
candidates=(python3.12)
for name in "${candidates[@]}"; do
  if command -v "$name" >/dev/null 2>&1 && "$name" -c 'import venv' >/dev/null 2>&1; then
    command -v "$name"; exit 0
  fi
done
if command -v pyenv >/dev/null 2>&1; then
  for dir in "$(pyenv root)"/versions/3.12*/bin; do
    if [ -x "$dir/python3.12" ] && "$dir/python3.12" -c 'import venv' >/dev/null 2>&1; then
      echo "$dir/python3.12"; exit 0
    fi
  done
fi
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  command -v python3; exit 0
fi
echo "find-python: Python 3.11 or newer is needed (3.12 preferred, as on Lambda)" >&2
exit 1
