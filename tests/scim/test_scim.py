"""An identity provider's story against Vouchsafe's SCIM service, through scim2-client (which
validates every answer against RFC 7643/7644 and the schemas the server publishes), then
scim2-tester's discovery checks. Run by tests/scim/run.sh; exits non-zero on any finding."""

import os
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Error, ListResponse, PatchOp, PatchOperation, SearchRequest, User

EXT = "urn:ietf:params:scim:schemas:extension:vouchsafe:2.0:User"
url, token = os.environ["SCIM_URL"], os.environ["SCIM_TOKEN"]
failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f" — {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


http = httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
scim = SyncSCIMClient(http)
scim.discover()
UserModel = scim.get_resource_model("User")
check("discovery publishes the User resource type", UserModel is not None)


def raw(method, path, **kw):
    return http.request(method, path, **kw)


def standing(user_id):
    return raw("GET", f"/Users/{user_id}").json()[EXT]["status"]


# Create: the person is invited, and the answer says they have no key.
ann = scim.create(UserModel(user_name="ann@example.com", external_id="00u-ann",
                            emails=[{"value": "ann@example.com", "primary": True, "type": "work"}]))
check("create returns the User", ann.user_name == "ann@example.com" and ann.id)
check("a provisioned person is invited, without key access", standing(ann.id) == "invited")
outbox = os.environ["OUTBOX"]
mails = [open(os.path.join(outbox, f), encoding="utf-8", errors="replace").read() for f in sorted(os.listdir(outbox))]
check("the invitation e-mail went out", any("ann@example.com" in m for m in mails), str(len(mails)))

# Duplicate userName: 409 uniqueness.
dup = scim.create(UserModel(user_name="ANN@example.com"), raise_scim_errors=False)
check("a duplicate userName is 409 uniqueness", isinstance(dup, Error) and dup.status == 409 and dup.scim_type == "uniqueness", repr(dup))

# Read, filter, page.
got = scim.query(UserModel, ann.id)
check("get by id", got.id == ann.id and got.external_id == "00u-ann")
found = scim.query(UserModel, query_parameters=SearchRequest(filter='userName eq "ann@example.com"'))
check("filter by userName", isinstance(found, ListResponse) and found.total_results == 1 and found.resources[0].id == ann.id)
bad = scim.query(UserModel, query_parameters=SearchRequest(filter='userName sw "ann"'), raise_scim_errors=False)
check("an unsupported filter is 400 invalidFilter", isinstance(bad, Error) and bad.status == 400 and bad.scim_type == "invalidFilter", repr(bad))
scim.create(UserModel(user_name="bea@example.com"))
page = scim.query(UserModel, query_parameters=SearchRequest(start_index=2, count=1))
check("startIndex and count page the list", page.total_results == 2 and len(page.resources) == 1 and page.start_index == 2)

# Replace, then patch as Okta (no path) and as Entra ("Replace", a string boolean).
got.display_name = "Ann A."
put = scim.replace(got)
check("replace keeps what was sent", put.display_name == "Ann A.")
r = raw("PATCH", f"/Users/{ann.id}", json={
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "value": {"title": "Support lead"}}]})
check("an Okta-style PATCH (no path) applies", r.status_code == 200 and r.json().get("title") == "Support lead", r.text)
r = raw("PATCH", f"/Users/{ann.id}", json={
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    headers={"Content-Type": "application/scim+json"})
check("an Entra-style PATCH (Replace, \"False\") deactivates", r.status_code == 200 and r.json()["active"] is False, r.text)
check("answers are application/scim+json", r.headers["content-type"].startswith("application/scim+json"))
check("a deactivated invitee's invitation is revoked", standing(ann.id) == "inactive", standing(ann.id))
check("ETag is meta.version", r.headers.get("etag") == r.json()["meta"]["version"])
patched = scim.modify(UserModel, ann.id, PatchOp[UserModel](operations=[
    PatchOperation[UserModel](op="replace", path="active", value=True)]))
check("scim2-client's PATCH reactivates (a new invitation)", standing(ann.id) == "invited", repr(patched))
r = raw("PATCH", f"/Users/{ann.id}", json={
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "replace", "path": "password", "value": "x"}]})
check("an unknown path is 400 invalidPath", r.status_code == 400 and r.json().get("scimType") == "invalidPath", r.text)

# Delete: gone, and its invitation with it.
scim.delete(UserModel, ann.id)
gone = scim.query(UserModel, ann.id, raise_scim_errors=False)
check("a deleted User is 404", isinstance(gone, Error) and gone.status == 404, repr(gone))
r = raw("GET", "/Groups")
check("Groups are not offered (a SCIM 404)", r.status_code == 404 and "Error" in r.json()["schemas"][0])
r = httpx2.get(f"{url}/Users", headers={"Authorization": "Bearer vst_" + "A" * 43})
check("an unknown token is 401 in SCIM's words", r.status_code == 401 and r.json()["status"] == "401", r.text)

# scim2-tester: the discovery endpoints, as a conformance checker reads them.
from scim2_tester import check_server  # noqa: E402
from scim2_tester.utils import Status  # noqa: E402

for result in check_server(scim, include_tags={"discovery"}):
    bad = result.status in (Status.ERROR, Status.CRITICAL) if hasattr(Status, "CRITICAL") else result.status == Status.ERROR
    check(f"scim2-tester {result.title}", not bad, result.reason or "")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
