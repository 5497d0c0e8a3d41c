#!/usr/bin/env bash
# `sam validate --lint` and `sam build` on template.yaml, without Docker and without
# touching the clone: the SAM CLI lives in its own virtual environment under
# ${XDG_CACHE_HOME:-~/.cache}/switchboard/, and the build goes to a temp dir that is
# removed on exit (set SAM_BUILD_DIR to build there instead and keep the result).
#   bash infra/sam-check.sh                      validate, lint, build every resource
#   bash infra/sam-check.sh SmsWebhookFunction   ... build that one (and its layer) only
# SAM_CHECK_VALIDATE=0 skips validate --lint (a second build of a template already checked);
# the environment reaches functions/Makefile (WHEEL_ARCH=x86_64: wheels for this machine).
# Network: PyPI only (the SAM CLI once, then the functions' requirements per build).
set -euo pipefail

SAM_VERSION=1.170.0

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

say() { printf 'sam-check: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/switchboard"
venv="$cache_root/sam-$SAM_VERSION"
marker="$venv/.installed"   # written last: no marker, no (complete) install

# SAM CLI: no telemetry, and its own settings dir (instead of ~/.aws-sam) whose
# metadata.json says the weekly "newer version on PyPI?" check was last done in 2100,
# which is the only way to switch that check off (it has no setting of its own).
export SAM_CLI_TELEMETRY=0
export __SAM_CLI_APP_DIR="$venv/sam-settings"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_REGION="${AWS_REGION:-$AWS_DEFAULT_REGION}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# A Python that actually runs (pyenv shims can exist for versions that are not active).
runs() { "$1" -c 'import sys, venv' >/dev/null 2>&1; }

find_sam_python() {
  local name path
  for name in python3.11 python3.12 python3.13 python3; do
    path="$(command -v "$name" 2>/dev/null)" || continue
    if runs "$path" && "$path" -c 'import sys; sys.exit(not ((3, 9) <= sys.version_info[:2] < (3, 14)))' 2>/dev/null; then
      echo "$path"; return 0
    fi
  done
  return 1
}

# The Lambda runtime's interpreter, needed by `sam build` for runtime python3.12.
find_python312() {
  local path dir
  if path="$(command -v python3.12 2>/dev/null)" && runs "$path" \
      && "$path" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
    echo "$path"; return 0
  fi
  if command -v pyenv >/dev/null 2>&1; then
    for dir in "$(pyenv root)"/versions/3.12*/bin; do
      if [ -x "$dir/python3.12" ] && runs "$dir/python3.12"; then
        echo "$dir/python3.12"; return 0
      fi
    done
  fi
  return 1
}

install_sam() {
  local python log start
  python="$(find_sam_python)" || die "no working Python 3.9-3.13 found to install the SAM CLI with"
  say "installing aws-sam-cli==$SAM_VERSION into $venv (with $("$python" -V 2>&1)); this takes a minute or two"
  start=$SECONDS
  rm -rf "$venv"
  mkdir -p "$cache_root"
  log="$(mktemp "${TMPDIR:-/tmp}/sam-check-pip.XXXXXX")"
  if ! { "$python" -m venv "$venv" \
         && "$venv/bin/python" -m pip install --quiet --upgrade pip \
         && "$venv/bin/python" -m pip install --quiet "aws-sam-cli==$SAM_VERSION"; } >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; rm -rf "$venv"
    die "installing aws-sam-cli==$SAM_VERSION failed (pip output above)"
  fi
  rm -f "$log"
  "$venv/bin/sam" --version >/dev/null 2>&1 || { rm -rf "$venv"; die "the installed sam does not run"; }
  echo "$SAM_VERSION" >"$marker"
  say "installed in $((SECONDS - start)) s"
}

mkdir -p "$cache_root"
# One installer at a time (two test runs starting together must not both build the venv).
exec 9>"$cache_root/.sam-$SAM_VERSION.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ -f "$marker" ] && [ -x "$venv/bin/sam" ]; then
  say "using aws-sam-cli $SAM_VERSION from $venv"
else
  install_sam
fi
exec 9>&-
sam="$venv/bin/sam"
"$venv/bin/python" - "$__SAM_CLI_APP_DIR/metadata.json" <<'PY'
import json, pathlib, sys
path = pathlib.Path(sys.argv[1])
data = json.loads(path.read_text()) if path.exists() else {}
if data.get("lastVersionCheck") != 4102444800.0:  # 2100-01-01
    data["lastVersionCheck"] = 4102444800.0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
PY

py312="$(find_python312)" || die "sam build needs a working python3.12 (the functions' runtime): \
put one on PATH, or install it with pyenv (pyenv install 3.12)"

work="$(mktemp -d "${TMPDIR:-/tmp}/sam-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [ -n "${SAM_BUILD_DIR:-}" ]; then
  build_dir="$SAM_BUILD_DIR"
else
  build_dir="$work/build"   # sam writes build.toml next to the build dir, so keep both in $work
fi

if [ "${SAM_CHECK_VALIDATE:-1}" != 0 ]; then
  say "sam validate --lint --template template.yaml"
  "$sam" validate --lint --template template.yaml
fi

say "sam build ${*:-(every resource)} --template template.yaml --build-dir $build_dir (python3.12: $py312)"
start=$SECONDS
PATH="$(dirname "$py312"):$PATH" "$sam" build "$@" \
  --template template.yaml \
  --build-dir "$build_dir" \
  --cache-dir "$work/cache" \
  --no-cached \
  --no-use-container
say "build took $((SECONDS - start)) s${SAM_BUILD_DIR:+; kept in $build_dir}"
say "ok"
