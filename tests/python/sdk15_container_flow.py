"""A container pool and a container task through azure-batch 15.x, end to end.

usage: sdk15_container_flow.py URL ACCOUNT KEY   (needs the fixture images: fixtures/images/build.sh)
"""
import sys
import uuid

from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential

from common import wait_for

url, account, key = sys.argv[1:4]
client = BatchClient(url, AzureNamedKeyCredential(account, key))
run = uuid.uuid4().hex[:8]
pool_id, job_id = f"py15-containers-{run}", f"py15-cjob-{run}"
image = "batch-emulator-fixture/entrypoint:1"

client.create_pool(m.BatchPoolCreateOptions(
    id=pool_id,
    vm_size="standard_d2s_v3",
    target_dedicated_nodes=1,
    virtual_machine_configuration=m.VirtualMachineConfiguration(
        image_reference=m.BatchVmImageReference(publisher="microsoft-azure-batch", offer="ubuntu-server-container", sku="20-04-lts"),
        node_agent_sku_id="batch.node.ubuntu 20.04",
        container_configuration=m.BatchContainerConfiguration(type="dockerCompatible", container_image_names=[image]),
    ),
))
wait_for("an idle container node", lambda: (lambda ns: (len(ns) == 1 and ns[0].state == "idle", [n.state for n in ns]))(list(client.list_nodes(pool_id))))
pool = client.get_pool(pool_id)
assert pool.virtual_machine_configuration.container_configuration.container_image_names == [image]

client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
client.create_task(job_id, m.BatchTaskCreateOptions(
    id="c1",
    command_line="from the sdk",
    container_settings=m.BatchTaskContainerSettings(image_name=image, container_run_options="--rm"),
))
task = wait_for("c1 completed", lambda: (lambda t: (t.state == "completed", t))(client.get_task(job_id, "c1")))
assert task.execution_info.exit_code == 0, task.execution_info
assert task.execution_info.container_info.container_id, task.execution_info
assert task.container_settings.working_directory == "taskWorkingDirectory", task.container_settings
out = b"".join(client.download_task_file(job_id, "c1", "stdout.txt")).decode()
assert out == "entrypoint-says from the sdk\n", out

client.begin_delete_job(job_id, polling_interval=0.05).result()
client.begin_delete_pool(pool_id, polling_interval=0.05).result()
print("sdk15 container flow: OK")
