#!/usr/bin/env bash
# Sets up everything the project needs on a fresh Debian machine (run as root or with sudo for apt):
# Graphviz's `dot` for diagrams, then a virtual environment in .venv with the project and its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dot >/dev/null 2>&1; then
  echo "setup: installing Graphviz (dot) from Debian" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq graphviz >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[dev,dask]'
echo "setup: ready (.venv/bin/pathway)" >&2
