#!/usr/bin/env bash
# The status page's browser test renders it in headless Chromium; install Debian's when we can.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium for the status page's browser test (chromium) ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "the status page's browser test needs Chromium: install it (e.g. apt-get install chromium)" >&2
  exit 1
fi
