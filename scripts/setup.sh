#!/usr/bin/env bash
# Sets up everything the project needs on a fresh Debian machine (run as root or with sudo for apt):
# Graphviz's `dot` for diagrams, Chromium and its WebDriver for the report's browser tests, SPIN with
# gcc and tcc for `pathway verify --cross-check spin`, then a virtual environment in .venv with the
# project, its test tools and the verify extra (Z3, Storm).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v spin >/dev/null 2>&1 || missing+=(spin)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v tcc >/dev/null 2>&1 || missing+=(tcc)  # compiles SPIN's verifier ~40x faster than gcc
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]} from Debian" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[dev,dask,browser,verify,economics]'
# An editable install ships no byte code, and PYTHONDONTWRITEBYTECODE (set on some machines) stops
# Python writing it: compile it once here, as pip does for an installed package (start-up time).
.venv/bin/python -m compileall -q -j 0 pathway >/dev/null
echo "setup: ready (.venv/bin/pathway)" >&2
