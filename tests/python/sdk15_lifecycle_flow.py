"""Drives a running batch-emulator's lifecycle features with the official azure-batch 15.x SDK.

usage: sdk15_lifecycle_flow.py URL ACCOUNT KEY

A job manager task that ends its job, a job schedule (create, get, list, its jobs, disable,
enable, the terminate and delete pollers), and node operations (the reboot and reimage
pollers, disable and enable scheduling). Exits non-zero on the first failed assertion.
"""
import sys
import uuid

from common import wait_for

from azure.batch import BatchClient
from azure.batch import models as m
from azure.batch.models._models import BatchNodeRebootOptions, BatchNodeReimageOptions  # not exported
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError

url, account, key = sys.argv[1:4]
client = BatchClient(url, AzureNamedKeyCredential(account, key))
run = uuid.uuid4().hex[:8]
pool_id = f"py15-life-{run}"

client.create_pool(m.BatchPoolCreateOptions(
    id=pool_id,
    vm_size="standard_d2s_v3",
    target_dedicated_nodes=1,
    task_slots_per_node=2,
    start_task=m.BatchStartTask(command_line="/bin/true", wait_for_success=True),
    virtual_machine_configuration=m.VirtualMachineConfiguration(
        image_reference=m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"),
        node_agent_sku_id="batch.node.ubuntu 22.04",
    ),
))
node = wait_for("an idle node", lambda: (lambda ns: (len(ns) == 1 and ns[0].state == "idle", ns))(list(client.list_nodes(pool_id))))[0]

# Job manager: runs first; its completion terminates the job (JMComplete).
jm_job = f"py15-jm-{run}"
client.create_job(m.BatchJobCreateOptions(
    id=jm_job,
    pool_info=m.BatchPoolInfo(pool_id=pool_id),
    job_manager_task=m.BatchJobManagerTask(id="manager", command_line="/bin/sh -c 'echo managing'"),
))
job = wait_for("JM job completed", lambda: (lambda j: (j.state == "completed", j))(client.get_job(jm_job)))
assert job.execution_info.termination_reason == "JMComplete", job.execution_info
assert job.job_manager_task.kill_job_on_completion is True and job.job_manager_task.run_exclusive is True, job.job_manager_task
assert b"".join(client.download_task_file(jm_job, "manager", "stdout.txt")).decode() == "managing\n"

# Job schedule: a recurring one creates <id>:job-1 at once.
sched = f"py15-sched-{run}"
client.create_job_schedule(m.BatchJobScheduleCreateOptions(
    id=sched,
    schedule=m.BatchJobScheduleConfiguration(recurrence_interval="PT1H"),
    job_specification=m.BatchJobSpecification(pool_info=m.BatchPoolInfo(pool_id=pool_id), priority=3),
))
assert client.job_schedule_exists(sched) is True
s = client.get_job_schedule(sched)
assert s.state == "active" and s.schedule.recurrence_interval is not None, s
assert s.execution_info.recent_job.id == f"{sched}:job-1", s.execution_info
assert s.execution_info.next_run_time is not None
assert [j.id for j in client.list_jobs_from_schedule(sched)] == [f"{sched}:job-1"]
assert client.get_job(f"{sched}:job-1").priority == 3
assert any(x.id == sched for x in client.list_job_schedules())
client.disable_job_schedule(sched)
assert client.get_job_schedule(sched).state == "disabled"
client.enable_job_schedule(sched)
assert client.get_job_schedule(sched).state == "active"
client.begin_terminate_job_schedule(sched, polling_interval=0.05).result()
s = wait_for("schedule completed", lambda: (lambda s: (s.state == "completed", s))(client.get_job_schedule(sched)))
assert client.get_job(f"{sched}:job-1").execution_info.termination_reason == "TerminateJobSchedule"
client.begin_delete_job_schedule(sched, polling_interval=0.05).result()
wait_for("schedule gone", lambda: (not any(x.id == sched for x in client.list_job_schedules()), None))
try:
    client.get_job(f"{sched}:job-1")
    raise AssertionError("the schedule's job outlived it")
except HttpResponseError as e:
    assert e.status_code == 404, e.status_code

# Node operations: reboot and reimage pollers, then scheduling off and on.
before = client.get_node(pool_id, node.id).last_boot_time
client.begin_reboot_node(pool_id, node.id, BatchNodeRebootOptions(node_reboot_kind="requeue"), polling_interval=0.05).result()
n = wait_for("node back", lambda: (lambda n: (n.state == "idle", n))(client.get_node(pool_id, node.id)))
assert n.last_boot_time > before and n.start_task_info.state == "completed", n
client.begin_reimage_node(pool_id, node.id, BatchNodeReimageOptions(node_reimage_option="terminate"), polling_interval=0.05).result()
wait_for("node back", lambda: (lambda n: (n.state == "idle", n))(client.get_node(pool_id, node.id)))
client.disable_node_scheduling(pool_id, node.id, m.BatchNodeDisableSchedulingOptions(node_disable_scheduling_option="taskcompletion"))
n = client.get_node(pool_id, node.id)
assert n.scheduling_state == "disabled" and n.state == "offline", (n.scheduling_state, n.state)
try:
    # (15.1.0 cannot send this request without a non-empty options object: it fails
    # client-side with "No value for given attribute".)
    client.disable_node_scheduling(pool_id, node.id, m.BatchNodeDisableSchedulingOptions(node_disable_scheduling_option="requeue"))
    raise AssertionError("disabled twice")
except HttpResponseError as e:
    assert e.status_code == 409 and e.error.code == "NodeAlreadyInTargetSchedulingState", (e.status_code, e.error.code)
client.enable_node_scheduling(pool_id, node.id)
assert client.get_node(pool_id, node.id).state == "idle"

client.begin_delete_job(jm_job, polling_interval=0.05).result()
client.begin_delete_pool(pool_id, polling_interval=0.05).result()
print("sdk15 lifecycle flow: OK")
