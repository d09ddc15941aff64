#!/usr/bin/env bash
# Drives the SCIM 2.0 service of a running release server with real SCIM client libraries from
# PyPI (pinned): scim2-client (RFC 7643/7644 requests and response validation) for an identity
# provider's whole story, and scim2-tester's discovery checks. Fails on any finding.
#
#   bash tests/scim/run.sh               # embedded SQLite in a temporary folder
#   bash tests/scim/run.sh --postgres    # a fresh PostgreSQL database, dropped afterwards
#
# Needs target/release/vouchsafe and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${VOUCHSAFE_BIN:-$PWD/target/release/vouchsafe}"
venv="${SCIM_VENV:-$PWD/target/scim-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import scim2_client, scim2_tester, httpx2' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/scim/requirements.txt
fi
source tests/lib/server.sh
vs_serve scim "${SCIM_PORT:-18941}" "${1:-}"
# An admin with an account, and an API token with the scim scope, made by the CLI.
export VOUCHSAFE_SERVER="$url" VOUCHSAFE_PROFILE="$work/profile.json" VOUCHSAFE_PASSWORD="scim correct horse battery"
"$bin" register --email admin@example.com >/dev/null
"$bin" login --email admin@example.com >/dev/null
"$bin" account create "Provisioned team" >/dev/null
account="$("$bin" account list | awk 'NR==1 {print $1}')"
token="$("$bin" token create "$account" --name "SCIM test client" --scope scim 2>/dev/null)"
SCIM_URL="$url/scim/v2/$account" SCIM_TOKEN="$token" OUTBOX="$work/outbox" "$venv/bin/python" tests/scim/test_scim.py
