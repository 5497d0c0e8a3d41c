#!/usr/bin/env bash
# The browser tests (the status page, the agents' pages) drive headless Chromium through
# ChromeDriver; install Debian's pair (their versions always match) when we can.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Chromium and ChromeDriver for the browser tests (chromium, chromium-driver) ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "the browser tests need Chromium and ChromeDriver: install them (e.g. apt-get install chromium chromium-driver)" >&2
  exit 1
fi
