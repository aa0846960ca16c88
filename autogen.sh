#!/bin/sh
# Generates ./configure from configure.ac (run once after a fresh clone).
set -e
cd "$(dirname "$0")"
autoreconf --install --force
