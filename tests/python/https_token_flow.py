"""Drives a batch-emulator served over HTTPS with the official azure-batch 15.x SDK and a
TokenCredential, as code that authenticates with Microsoft Entra ID does (azure-core sends
bearer tokens only over https).

usage: https_token_flow.py HTTPS_URL   (REQUESTS_CA_BUNDLE names the emulator's certificate)
"""
import base64
import json
import sys
import time
import uuid

from common import wait_for

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

url = sys.argv[1]
assert url.startswith("https://"), url


def b64(d):
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


class EntraLikeCredential:
    """What a token from Microsoft Entra ID looks like to the service: a JWT for Batch."""

    def __init__(self, audience="https://batch.core.windows.net/", lifetime=3600):
        self.audience, self.lifetime, self.scopes = audience, lifetime, []

    def get_token(self, *scopes, **kwargs):
        self.scopes.append(scopes)
        now = int(time.time())
        claims = {"aud": self.audience, "iat": now, "nbf": now, "exp": now + self.lifetime, "oid": str(uuid.uuid4())}
        return AccessToken(f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(claims)}.c2lnbmF0dXJl", now + self.lifetime)


cred = EntraLikeCredential()
client = BatchClient(url, cred)
run = uuid.uuid4().hex[:8]
pool_id, job_id = f"https-pool-{run}", f"https-job-{run}"
client.create_pool(m.BatchPoolCreateOptions(
    id=pool_id, vm_size="standard_d2s_v3", target_dedicated_nodes=1,
    virtual_machine_configuration=m.VirtualMachineConfiguration(
        image_reference=m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"),
        node_agent_sku_id="batch.node.ubuntu 22.04")))
assert cred.scopes and all(s == ("https://batch.core.windows.net//.default",) for s in cred.scopes), cred.scopes
client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
client.create_task(job_id, m.BatchTaskCreateOptions(id="t", command_line="/bin/sh -c 'echo over https'"))
def task_state():
    state = client.get_task(job_id, "t").state
    return state == m.BatchTaskState.COMPLETED, state


wait_for("the task completes", task_state)
out = b"".join(client.download_task_file(job_id, "t", "stdout.txt")).decode()
assert out == "over https\n", out

# A token for another audience, or an expired one, is refused as the service refuses it.
for bad in (EntraLikeCredential(audience="https://management.azure.com/"), EntraLikeCredential(lifetime=-600)):
    try:
        BatchClient(url, bad).get_pool(pool_id)
        raise AssertionError("a bad token was accepted")
    except (HttpResponseError, ClientAuthenticationError) as e:
        assert getattr(e, "status_code", None) in (401, 403), e

# azure-core itself will not send the token over plain http.
try:
    BatchClient(url.replace("https://", "http://"), cred).get_pool(pool_id)
    raise AssertionError("a bearer token went over http")
except (ServiceRequestError, ValueError, Exception) as e:  # azure-core raises before sending
    assert "https" in str(e).lower() or "tls" in str(e).lower() or "ssl" in str(e).lower(), e

client.begin_delete_job(job_id).result()
print("flow: OK")
