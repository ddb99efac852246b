#!/usr/bin/env bash
# The OpenAPI document as a contract clients can use: it passes openapi-spec-validator, and a
# Python client generated from it with openapi-python-client (warnings are errors) creates
# users, screens an eligible patient (docs/api.md's example request), randomizes it and
# verifies the audit trail against the live debug server; every body it gets back is also
# validated against the document's schema for it.
# Usage: tests/openapi/check.sh [path/to/trialgate]
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -ge 1 ]; then
  BIN=$1
else
  target=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  BIN=$target/debug/trialgate
fi
[ -x "$BIN" ] || { echo "no server binary at $BIN (cargo build first)" >&2; exit 1; }

python3 -c 'import openapi_spec_validator' 2>/dev/null \
  || python3 -m pip install --quiet 'openapi-spec-validator>=0.7,<1'
python3 -c 'import openapi_python_client' 2>/dev/null \
  || python3 -m pip install --quiet 'openapi-python-client>=0.29,<0.30'

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --bind "127.0.0.1:$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$base/api/v1/openapi.json" -o "$work/openapi.json"

echo "== openapi-spec-validator"
python3 -m openapi_spec_validator "$work/openapi.json"

echo "== openapi-python-client generate"
# The generator has no TOML support: it is told to treat the amendment's TOML body as binary
# (the generated method then takes the file's bytes).
printf 'project_name_override: trialgate-client\npackage_name_override: trialgate_client\ncontent_type_overrides:\n  application/toml: application/octet-stream\n' \
  >"$work/client.yml"
python3 -m openapi_python_client generate --path "$work/openapi.json" --config "$work/client.yml" \
  --meta setup --output-path "$work/client" --fail-on-warning
# Its dependencies (httpx, attrs, python-dateutil) are the generator's own.
python3 -m pip install --quiet --no-deps --target "$work/site" "$work/client"

echo "== the generated client against the server"
# docs/api.md's screening request, less its fixed screening_date (it defaults to today).
python3 - "$work/request.json" <<'PY'
import json, re, sys
doc = open("docs/api.md", encoding="utf-8").read()
section = doc[doc.index("## Screening request"):]
body = json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))
body.pop("screening_date", None)
json.dump(body, open(sys.argv[1], "w"))
PY
PYTHONPATH="$work/site" python3 - "$base" "$work/data/admin.token" "$work/request.json" \
  "$work/openapi.json" <<'PY'
import json, sys
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from trialgate_client import AuthenticatedClient
from trialgate_client.api.monitoring import verify_audit
from trialgate_client.api.screenings import create_screening
from trialgate_client.api.subjects import randomize
from trialgate_client.api.trials import list_trials
from trialgate_client.api.sites import create_site
from trialgate_client.api.users import create_user
from trialgate_client.models import (NewSiteRequest, NewUserRequest, Outcome,
                                     RandomizationRequest, RawScreening)

base, token_file, request_file, doc_file = sys.argv[1:]
registry = Registry().with_resource(
    "urn:openapi", Resource.from_contents(json.load(open(doc_file)), DRAFT202012))

def checked(response, status, schema):
    """Asserts the status, validates the raw body against the document; the parsed model."""
    body = response.content.decode()
    assert response.status_code == status, f"{response.status_code} (wanted {status}): {body}"
    OAS31Validator({"$ref": f"urn:openapi#/components/schemas/{schema}"},
                   registry=registry).validate(json.loads(body))
    assert response.parsed is not None, body
    return response.parsed

admin = AuthenticatedClient(base_url=base, token=open(token_file).read().strip())
# The register starts empty: the example's site first.
site = json.load(open(request_file))["site"]
checked(create_site.sync_detailed(client=admin, body=NewSiteRequest(
    code=site, name="Site 01", time_zone="Asia/Shanghai")), 201, "SiteView")
tokens = {}
for role in ("investigator", "pharmacist", "monitor"):
    created = checked(create_user.sync_detailed(
        client=admin, body=NewUserRequest(name=role, role=role)), 201, "CreatedUser")
    tokens[role] = AuthenticatedClient(base_url=base, token=created.token)
response = list_trials.sync_detailed(client=tokens["investigator"])
assert response.status_code == 200, response.content
trial = response.parsed[0].id

screening = checked(create_screening.sync_detailed(
    trial, client=tokens["investigator"],
    body=RawScreening.from_dict(json.load(open(request_file)))), 201, "ScreeningView")
assert screening.outcome == Outcome.ELIGIBLE, screening
allocation = checked(randomize.sync_detailed(
    trial, client=tokens["pharmacist"],
    body=RandomizationRequest(screening_id=screening.id)), 201, "Allocation")
verification = checked(verify_audit.sync_detailed(trial, client=tokens["monitor"]),
                       200, "AuditVerification")
assert verification.valid and verification.entries >= 3, verification
print(f"ok: {trial} screening {screening.id} -> {allocation.subject_id} ({allocation.arm}); "
      f"audit valid, {verification.entries} entries")
PY
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:"; grep -n "panicked" "$work/server.log"; exit 1
fi
