"""Drives a running batch-emulator with the legacy azure-batch 14.x SDK (msrest).

usage: sdk14_flow.py URL ACCOUNT KEY
"""
import sys
import time
import uuid

from common import wait_for

import azure.batch.models as m
from azure.batch import BatchServiceClient
from azure.batch.batch_auth import SharedKeyCredentials

url, account, key = sys.argv[1:4]
client = BatchServiceClient(SharedKeyCredentials(account, key), batch_url=url)
run = uuid.uuid4().hex[:8]
pool_id, job_id = f"py14-pool-{run}", f"py14-job-{run}"


client.pool.add(m.PoolAddParameter(
    id=pool_id,
    vm_size="standard_d2s_v3",
    target_dedicated_nodes=2,
    virtual_machine_configuration=m.VirtualMachineConfiguration(
        image_reference=m.ImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"),
        node_agent_sku_id="batch.node.ubuntu 22.04",
    ),
))
assert client.pool.exists(pool_id)
wait_for("two idle nodes", lambda: (lambda ns: (len(ns) == 2 and all(n.state == "idle" for n in ns), [n.state for n in ns]))(list(client.compute_node.list(pool_id))))

client.job.add(m.JobAddParameter(id=job_id, pool_info=m.PoolInformation(pool_id=pool_id)))
job = client.job.get(job_id)
assert job.max_parallel_tasks == -1 and job.state == "active", job
client.task.add(job_id, m.TaskAddParameter(id="t1", command_line="/bin/sh -c 'printf hi-from-14; pwd >&2'"))
task = wait_for("t1 completed", lambda: (lambda t: (t.state == "completed", t))(client.task.get(job_id, "t1")))
assert task.execution_info.exit_code == 0 and task.execution_info.result == "success"
out = b"".join(client.file.get_from_task(job_id, "t1", "stdout.txt")).decode()
assert out == "hi-from-14", out
err = b"".join(client.file.get_from_task(job_id, "t1", "stderr.txt")).decode()
assert err.strip().endswith(f"workitems/{job_id}/job-1/t1/wd"), err

# Add collection, then follow odata.nextLink verbatim with a small page size.
res = client.task.add_collection(job_id, [m.TaskAddParameter(id=f"c{i}", command_line="true") for i in range(7)])
assert all(r.status.lower() == "success" for r in res.value), [r.status for r in res.value]
dup = client.task.add_collection(job_id, [m.TaskAddParameter(id="c1", command_line="true")])
assert dup.value[0].status.lower() == "clienterror" and dup.value[0].error.code == "TaskExists", dup.value[0]
ids = [t.id for t in client.task.list(job_id, m.TaskListOptions(max_results=3))]
assert sorted(ids) == sorted(["t1"] + [f"c{i}" for i in range(7)]), ids

try:
    client.job.get(f"missing-{run}")
    raise AssertionError("missing job found")
except m.BatchErrorException as e:
    assert e.response.status_code == 404 and e.error.code == "JobNotFound", e.error.code
    assert e.error.message.value.startswith("The specified job does not exist.\nRequestId:")

# 14.x terminates with an empty body, a JSON content type and Content-Length: 0.
client.job.terminate(job_id)
wait_for("job completed", lambda: (lambda j: (j.state == "completed", j.state))(client.job.get(job_id)))
assert client.job.get(job_id).execution_info.terminate_reason == "UserTerminate"
client.job.delete(job_id)
client.pool.delete(pool_id)
wait_for("pool gone", lambda: (not client.pool.exists(pool_id), None))
print("sdk14 flow: OK")
