"""The plugin's fixtures give a running emulator and a working azure-batch client."""
import time
import uuid

from azure.batch import models as m
from azure.core.exceptions import ResourceNotFoundError

from batch_emulator import BatchEmulator


def test_the_client_runs_a_task(batch_client, batch_emulator):
    assert batch_emulator.url.startswith("http://127.0.0.1:")
    run = uuid.uuid4().hex[:8]
    pool, job = f"fx-pool-{run}", f"fx-job-{run}"
    batch_client.create_pool(m.BatchPoolCreateOptions(
        id=pool, vm_size="standard_d2s_v3", target_dedicated_nodes=1,
        virtual_machine_configuration=m.VirtualMachineConfiguration(
            image_reference=m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"),
            node_agent_sku_id="batch.node.ubuntu 22.04")))
    batch_client.create_job(m.BatchJobCreateOptions(id=job, pool_info=m.BatchPoolInfo(pool_id=pool)))
    batch_client.create_task(job, m.BatchTaskCreateOptions(id="t", command_line="/bin/sh -c 'echo from the fixture'"))
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
