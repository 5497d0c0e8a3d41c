#!/usr/bin/env bash
# DynamoDB Local needs Java 17+; install Debian's JDK when we can (its javac compiles the
# launcher that keeps DynamoDB Local on 127.0.0.1, infra/local_stack/dynamodb_local.py).
set -euo pipefail
if command -v java >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Java for DynamoDB Local (openjdk-17-jdk-headless) ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
else
  echo "DynamoDB Local needs Java 17 or newer: install it (e.g. apt-get install openjdk-17-jdk-headless)" >&2
  exit 1
fi
