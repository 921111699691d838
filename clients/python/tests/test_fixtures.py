"""The plugin's fixtures give a running emulator and a working azure-batch client."""
import time
import uuid

from azure.batch import models as m
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from batch_emulator import BatchEmulator


def _pool_and_job(client, name, command_line, **targets):
    """A pool with `targets` (target_dedicated_nodes=1, ...), a job on it and a task "t"."""
    run = uuid.uuid4().hex[:8]
    pool, job = f"fx-{name}-{run}", f"fx-{name}-job-{run}"
    client.create_pool(m.BatchPoolCreateOptions(
        id=pool, vm_size="standard_d2s_v3", **targets,
        virtual_machine_configuration=m.VirtualMachineConfiguration(
            image_reference=m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"),
            node_agent_sku_id="batch.node.ubuntu 22.04")))
    client.create_job(m.BatchJobCreateOptions(id=job, pool_info=m.BatchPoolInfo(pool_id=pool)))
    client.create_task(job, m.BatchTaskCreateOptions(id="t", command_line=command_line))
    return pool, job


def test_the_client_runs_a_task(batch_client, batch_emulator):
    assert batch_emulator.url.startswith("http://127.0.0.1:")
    _, job = _pool_and_job(batch_client, "pool", "/bin/sh -c 'echo from the fixture'", target_dedicated_nodes=1)
    deadline = time.monotonic() + 30
    while batch_client.get_task(job, "t").state != m.BatchTaskState.COMPLETED:
        assert time.monotonic() < deadline, "the task never completed"
        time.sleep(0.05)
    assert b"".join(batch_client.download_task_file(job, "t", "stdout.txt")) == b"from the fixture\n"


def test_errors_are_the_services(batch_client):
    try:
        batch_client.get_pool("no-such-pool")
        raise AssertionError("a missing pool was found")
    except ResourceNotFoundError as e:
        assert e.error.code == "PoolNotFound"


def test_a_block_of_its_own_stops_its_emulator():
    with BatchEmulator() as emu:
        proc = emu._proc
        assert emu.client().list_pools() is not None
    assert proc.poll() is not None, "the emulator still runs"


def test_the_control_api_preempts_a_spot_node_and_resets(batch_client, batch_emulator):
    pool, job = _pool_and_job(batch_client, "spot", "/bin/sh -c 'sleep 1; echo rerun'", target_low_priority_nodes=2)
    deadline = time.monotonic() + 30
    while (t := batch_client.get_task(job, "t")).state != m.BatchTaskState.RUNNING:
        assert time.monotonic() < deadline, "the task never ran"
        time.sleep(0.05)
    first = t.node_info.node_id
    batch_emulator.preempt_node(pool, first)
    assert batch_client.get_node(pool, first).state == m.BatchNodeState.PREEMPTED
    while (t := batch_client.get_task(job, "t")).state != m.BatchTaskState.COMPLETED:
        assert time.monotonic() < deadline, "the preempted task never reran"
        time.sleep(0.05)
    assert t.node_info.node_id != first and t.execution_info.exit_code == 0
    assert b"".join(batch_client.download_task_file(job, "t", "stdout.txt")) == b"rerun\n"
    try:
        batch_emulator.preempt_node(pool, first)
        raise AssertionError("a preempted node was preempted again")
    except HttpResponseError as e:
        assert e.status_code == 409
    batch_emulator.reset()
    assert list(batch_client.list_pools()) == [] and list(batch_client.list_jobs()) == []
