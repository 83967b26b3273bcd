#!/usr/bin/env bash
# Make sure Debian's chromium (PDF, browser tests), pdftotext (PDF tests) and a Java runtime
# (local Spark for the warehouse-engine tests) are present.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)  # Spark (warehouse engine tests)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" fonts-dejavu-core >/dev/null
else
  echo "missing: ${need[*]}. Install them (Debian/Ubuntu: sudo apt-get install -y ${need[*]})," >&2
  echo "or set REPORTING_CHROMIUM to a Chrome/Chromium executable. Reports still build without PDF." >&2
  if [ "${CI:-}" = "true" ]; then exit 1; fi
fi
