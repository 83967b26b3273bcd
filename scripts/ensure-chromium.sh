#!/usr/bin/env bash
# Make sure Debian's chromium (PDF, browser tests) and pdftotext (PDF tests) are present; with
# --java also a Java runtime, which only the local-Spark warehouse-engine tests need (`make test`
# asks for it, `make demo` does not).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
if [ "${1:-}" = "--java" ]; then
  command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ] || need+=(default-jre-headless)
fi
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
