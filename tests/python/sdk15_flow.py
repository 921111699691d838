"""Drives a running batch-emulator with the official azure-batch 15.x SDK.

usage: sdk15_flow.py URL ACCOUNT KEY

Creates a pool, a job and process tasks, reads their stdout and files, and checks errors,
paging, conditional updates and the long-running delete/terminate pollers. Exits non-zero on
the first failed assertion.
"""
import sys
import time
import uuid

from common import wait_for

from azure.batch import BatchClient
from azure.batch import models as m
from azure.batch.models._models import BatchJobTerminateOptions  # not exported (wire notes)
from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

url, account, key = sys.argv[1:4]
client = BatchClient(url, AzureNamedKeyCredential(account, key))
run = uuid.uuid4().hex[:8]
pool_id, job_id = f"py15-pool-{run}", f"py15-job-{run}"


def read(job, task, path):
    return b"".join(client.download_task_file(job, task, path)).decode()


# Pool with one node; nodes move creating -> starting -> idle.
client.create_pool(m.BatchPoolCreateOptions(
    id=pool_id,
    vm_size="standard_d2s_v3",
    target_dedicated_nodes=1,
    task_slots_per_node=2,
    virtual_machine_configuration=m.VirtualMachineConfiguration(
        image_reference=m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"),
        node_agent_sku_id="batch.node.ubuntu 22.04",
    ),
))
assert client.pool_exists(pool_id) is True
# azure-batch 15.1.0's BatchExceptionPolicy raises on the 404 before pool_exists can turn it into
# False; the emulator answers 404 like the service.
try:
    client.pool_exists(f"missing-{run}")
    raise AssertionError("missing pool exists")
except ResourceNotFoundError as e:
    assert e.status_code == 404
pool = client.get_pool(pool_id)
assert pool.id == pool_id and pool.vm_size == "standard_d2s_v3", pool
assert pool.virtual_machine_configuration.image_reference.version == "latest"
nodes = wait_for("an idle node", lambda: (lambda ns: (len(ns) == 1 and ns[0].state == "idle", ns))(list(client.list_nodes(pool_id))))
assert nodes[0].ip_address.startswith("127."), nodes[0].ip_address
assert wait_for("a steady pool", lambda: (lambda p: (p.allocation_state == "steady", p))(client.get_pool(pool_id))).current_dedicated_nodes == 1

# Duplicate pool -> 409 PoolExists.
try:
    client.create_pool(m.BatchPoolCreateOptions(id=pool_id.upper(), vm_size="x", virtual_machine_configuration=pool.virtual_machine_configuration))
    raise AssertionError("duplicate pool accepted")
except ResourceExistsError as e:
    assert e.error.code == "PoolExists", e.error.code

client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
try:
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
    raise AssertionError("duplicate job accepted")
except ResourceExistsError as e:
    assert e.error.code == "JobExists" and str(e).startswith("(JobExists) The specified job already exists."), str(e)
try:
    client.get_job(f"missing-{run}")
    raise AssertionError("missing job found")
except ResourceNotFoundError as e:
    assert e.error.code == "JobNotFound", e.error.code

# A process task: the command line is not run by a shell, so the shell is named explicitly.
client.create_task(job_id, m.BatchTaskCreateOptions(
    id="t1",
    command_line='/bin/sh -c "echo hello from $AZ_BATCH_TASK_ID > $AZ_BATCH_TASK_WORKING_DIR/out.txt; echo to-stdout; echo $MY_SETTING"',
    environment_settings=[m.EnvironmentSetting(name="MY_SETTING", value="from-env")],
))
task = wait_for("t1 completed", lambda: (lambda t: (t.state == "completed", t))(client.get_task(job_id, "t1")))
assert task.execution_info.exit_code == 0 and task.execution_info.result == "success", task.execution_info
assert task.node_info.pool_id == pool_id and task.node_info.node_id == nodes[0].id
assert task.constraints.retention_time == "P7D" or str(task.constraints.retention_time).startswith("7 days"), task.constraints
assert read(job_id, "t1", "stdout.txt") == "to-stdout\nfrom-env\n"
assert read(job_id, "t1", "wd/out.txt") == "hello from t1\n"
assert read(job_id, "t1", "stdout.txt") and b"".join(client.download_task_file(job_id, "t1", "stdout.txt", ocp_range="bytes=3-8")) == b"stdout"
names = {f.name for f in client.list_task_files(job_id, "t1", recursive=True)}
assert {"stdout.txt", "stderr.txt", "wd", "wd/out.txt"} <= names, names
props = client.get_task_file_properties(job_id, "t1", "wd/out.txt")
assert int(props.content_length) == len("hello from t1\n"), props
node_files = {f.name for f in client.list_node_files(pool_id, nodes[0].id)}
assert {"shared", "startup", "workitems"} <= node_files, node_files

# No shell: `&&` and `$VAR` reach echo as literal arguments.
client.create_task(job_id, m.BatchTaskCreateOptions(id="noshell", command_line="echo $AZ_BATCH_TASK_ID && hostname"))
wait_for("noshell completed", lambda: (lambda t: (t.state == "completed", t.state))(client.get_task(job_id, "noshell")))
assert read(job_id, "noshell", "stdout.txt") == "$AZ_BATCH_TASK_ID && hostname\n"

# A failing task: result failure with FailureExitCode.
client.create_task(job_id, m.BatchTaskCreateOptions(id="fails", command_line="/bin/sh -c 'exit 3'"))
t = wait_for("fails completed", lambda: (lambda t: (t.state == "completed", t))(client.get_task(job_id, "fails")))
assert t.execution_info.exit_code == 3 and t.execution_info.result == "failure"
assert t.execution_info.failure_info.code == "FailureExitCode" and t.execution_info.failure_info.category.lower() == "usererror"

# create_tasks (add collection, sent in reverse order), then paged and filtered lists.
result = client.create_tasks(job_id, [m.BatchTaskCreateOptions(id=f"c{i}", command_line=f"echo {i}") for i in range(5)])
assert len(result.result_values) == 5 and all(r.status.lower() == "success" for r in result.result_values), result
for i in range(5):
    wait_for(f"c{i}", lambda i=i: (lambda t: (t.state == "completed", t.state))(client.get_task(job_id, f"c{i}")))
ids = [t.id for t in client.list_tasks(job_id, max_results=2)]
assert sorted(ids) == sorted(["t1", "noshell", "fails", "c0", "c1", "c2", "c3", "c4"]), ids
assert len(ids) == len(set(ids))
failed = [t.id for t in client.list_tasks(job_id, filter="executionInfo/exitCode ne 0", select=["id", "executionInfo"])]
assert failed == ["fails"], failed
assert [t.id for t in client.list_tasks(job_id, filter="startswith(id,'c') and state eq 'completed'", max_results=1)] == ["c0", "c1", "c2", "c3", "c4"]
counts = client.get_job_task_counts(job_id)
assert counts.task_counts.completed == 8 and counts.task_counts.failed == 1 and counts.task_counts.succeeded == 7, counts

# Conditional update: the current ETag works, a stale one is 412.
job = client.get_job(job_id)
client.update_job(job_id, m.BatchJobUpdateOptions(priority=5), etag=job.etag, match_condition=MatchConditions.IfNotModified)
assert client.get_job(job_id).priority == 5
try:
    client.update_job(job_id, m.BatchJobUpdateOptions(priority=6), etag=job.etag, match_condition=MatchConditions.IfNotModified)
    raise AssertionError("stale etag accepted")
except ResourceModifiedError as e:
    assert e.status_code == 412 and e.error.code == "ConditionNotMet", (e.status_code, e.error.code)

# Bad input gets Batch's answer.
try:
    client.create_task(job_id, m.BatchTaskCreateOptions(id="bad id!", command_line="true"))
    raise AssertionError("bad id accepted")
except HttpResponseError as e:
    assert e.status_code == 400 and e.error.code == "InvalidPropertyValue", (e.status_code, e.error.code)

# Terminate (LRO) then delete (LRO).
client.begin_terminate_job(job_id, BatchJobTerminateOptions(termination_reason="done here"), polling_interval=0.05).result()
job = wait_for("job completed", lambda: (lambda j: (j.state == "completed", j.state))(client.get_job(job_id)))
assert client.get_job(job_id).execution_info.termination_reason == "done here"
client.begin_delete_job(job_id, polling_interval=0.05).result()
wait_for("job gone", lambda: (not any(j.id == job_id for j in client.list_jobs()), None))
client.begin_delete_pool(pool_id, polling_interval=0.05).result()
wait_for("pool gone", lambda: (not any(p.id == pool_id for p in client.list_pools()), None))
print("sdk15 flow: OK")
