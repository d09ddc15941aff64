#!/usr/bin/env bash
# Runs schemathesis (pinned, from PyPI) against a running release server built from this tree:
# the documented API must match the server exactly — every status documented, every response
# matching its schema and content type, and valid data accepted. Fails on any finding.
#
#   bash tests/api/schemathesis.sh                 # embedded SQLite in a temporary folder
#   bash tests/api/schemathesis.sh --postgres      # a fresh PostgreSQL database at 127.0.0.1:5432,
#                                                  # dropped afterwards
#
# Needs target/release/vouchsafe (cargo build --release -p vouchsafe) and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
SCHEMATHESIS_VERSION=4.32.5
bin="${VOUCHSAFE_BIN:-$PWD/target/release/vouchsafe}"
venv="${SCHEMATHESIS_VENV:-$PWD/target/schemathesis-venv}"
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$venv"
  # Every package pinned (tests/api/requirements.txt is `pip freeze` of a working install).
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/api/requirements.txt
fi

source tests/lib/server.sh
mode=""
if [ "${1:-}" = "--postgres" ]; then
  mode="--postgres"
  shift
fi
vs_serve schemathesis "${SCHEMATHESIS_PORT:-18931}" $mode

# A real user with a real account and item, made by the CLI, so that the operations have
# something to find; the access token comes from the profile's refresh token.
export VOUCHSAFE_SERVER="$url" VOUCHSAFE_PROFILE="$work/profile.json" VOUCHSAFE_PASSWORD="schemathesis correct horse"
"$bin" register --email fuzz@example.com >/dev/null
"$bin" login --email fuzz@example.com >/dev/null
"$bin" account create "Fuzzing team" >/dev/null
account="$("$bin" account list | awk 'NR==1 {print $1}')"
# An item and an invitation of the account, for the operations that take their ids.
"$bin" item put "$account" name=Ada note=fuzzing >/dev/null
"$bin" invite "$account" invitee@example.com --role member >/dev/null
# An access token from a profile's refresh token (the CLI keeps no access token).
access_token() {
  local refresh
  refresh="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["refresh_token"])' "$1")"
  curl -fsS -X POST -H 'content-type: application/json' -d "{\"refresh_token\":\"$refresh\"}" "$url/api/v1/auth/refresh" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
access="$(access_token "$work/profile.json")"
VOUCHSAFE_PROFILE="$work/logout.json" "$bin" login --email fuzz@example.com >/dev/null
LOGOUT_TOKEN="$(access_token "$work/logout.json")"
first_id() {
  curl -fsS -H "Authorization: Bearer $access" "$url/api/v1/accounts/$account/$1" \
    | python3 -c 'import json,sys; v=json.load(sys.stdin); v=v.get("items", v) if isinstance(v, dict) else v; print(v[0]["id"])'
}
ITEM_ID="$(first_id items)" INVITATION_ID="$(first_id invitations)" ACCOUNT_ID="$account"
export LOGOUT_TOKEN ACCOUNT_ID ITEM_ID INVITATION_ID
echo "schemathesis $SCHEMATHESIS_VERSION against $url (account $account)"

# One worker: CPython 3.11 before 3.11.8 races in `ast.parse` from several threads ("AST
# constructor recursion depth mismatch"), which hypothesis calls while it draws values.
"$venv/bin/schemathesis" --config-file tests/api/schemathesis.toml run "$url/api/openapi.json" \
  --url "$url" \
  -H "Authorization: Bearer $access" \
  --checks status_code_conformance,content_type_conformance,response_schema_conformance,positive_data_acceptance,not_a_server_error,unsupported_method \
  --phases examples,coverage,fuzzing \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
  --workers 1 \
  --suppress-health-check all \
  "$@"
