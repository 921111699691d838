"""Microsoft's Batch Python quickstart, as its users write it, against batch-emulator and a real
Azurite: upload inputs with azure-storage-blob, give each task an `httpUrl` resource file with a
blob SAS, send results and stdout to a container with `outputFiles`, and read them back from
storage. Runs on either SDK generation (azure-batch 15.x or 14.x, whichever the venv holds).

usage: quickstart_flow.py BATCH_URL ACCOUNT KEY STORAGE_CONNECTION_STRING
"""
import datetime
import sys
import uuid

from common import wait_for

import azure.batch
import azure.batch.models as m
from azure.storage.blob import BlobServiceClient, BlobSasPermissions, ContainerSasPermissions, generate_blob_sas, generate_container_sas

url, account, key, storage = sys.argv[1:5]
GEN = 15 if hasattr(azure.batch, "BatchClient") else 14
if GEN == 15:
    from azure.core.credentials import AzureNamedKeyCredential

    client = azure.batch.BatchClient(url, AzureNamedKeyCredential(account, key))
else:
    from azure.batch.batch_auth import SharedKeyCredentials

    client = azure.batch.BatchServiceClient(SharedKeyCredentials(account, key), batch_url=url)

run = uuid.uuid4().hex[:8]
pool_id, job_id = f"quickstart-pool-{run}", f"quickstart-job-{run}"
blobs = BlobServiceClient.from_connection_string(storage)
expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)

# 1. Inputs into a container; one read SAS URL per blob (the quickstart's upload_file_to_container).
inputs = blobs.create_container(f"input-{run}")
outputs = blobs.create_container(f"output-{run}")
names = [f"taskdata{i}.txt" for i in range(3)]
for i, name in enumerate(names):
    inputs.upload_blob(name, f"line one of {name}\nline two of {name}\n".encode())


def blob_sas_url(container, name):
    sas = generate_blob_sas(blobs.account_name, container.container_name, name, account_key=blobs.credential.account_key,
                            permission=BlobSasPermissions(read=True), expiry=expiry)
    return f"{container.url}/{name}?{sas}"


output_sas = generate_container_sas(blobs.account_name, outputs.container_name, account_key=blobs.credential.account_key,
                                    permission=ContainerSasPermissions(write=True), expiry=expiry)
output_url = f"{outputs.url}?{output_sas}"

# 2. Pool, job, one task per input (the quickstart's create_pool / create_job / add_tasks).
vm = dict(node_agent_sku_id="batch.node.ubuntu 22.04")
if GEN == 15:
    vm = m.VirtualMachineConfiguration(image_reference=m.BatchVmImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"), **vm)
    client.create_pool(m.BatchPoolCreateOptions(id=pool_id, vm_size="standard_d2s_v3", target_dedicated_nodes=2, virtual_machine_configuration=vm))
    client.create_job(m.BatchJobCreateOptions(id=job_id, pool_info=m.BatchPoolInfo(pool_id=pool_id)))
else:
    vm = m.VirtualMachineConfiguration(image_reference=m.ImageReference(publisher="canonical", offer="0001-com-ubuntu-server-jammy", sku="22_04-lts"), **vm)
    client.pool.add(m.PoolAddParameter(id=pool_id, vm_size="standard_d2s_v3", target_dedicated_nodes=2, virtual_machine_configuration=vm))
    client.job.add(m.JobAddParameter(id=job_id, pool_info=m.PoolInformation(pool_id=pool_id)))


def outputs_for(task_id):
    upload = m.OutputFileUploadConfiguration if GEN == 15 else m.OutputFileUploadOptions
    return [
        m.OutputFile(file_pattern="result.txt", upload_options=upload(upload_condition="taskSuccess"),
                     destination=m.OutputFileDestination(container=m.OutputFileBlobContainerDestination(container_url=output_url, path=f"{task_id}/result.txt"))),
        m.OutputFile(file_pattern="../std*.txt", upload_options=upload(upload_condition="taskCompletion"),
                     destination=m.OutputFileDestination(container=m.OutputFileBlobContainerDestination(container_url=output_url, path=f"{task_id}/logs"))),
    ]


tasks = []
for i, name in enumerate(names):
    task_id = f"Task{i}"
    args = dict(id=task_id, command_line=f"/bin/bash -c \"cat {name}; wc -l < {name} > result.txt\"",
                resource_files=[m.ResourceFile(http_url=blob_sas_url(inputs, name), file_path=name)], output_files=outputs_for(task_id))
    tasks.append(m.BatchTaskCreateOptions(**args) if GEN == 15 else m.TaskAddParameter(**args))
if GEN == 15:
    client.create_tasks(job_id, tasks)
else:
    client.task.add_collection(job_id, tasks)

# 3. Wait for the tasks (the quickstart's wait_for_tasks_to_complete), then print their stdout.
list_tasks = (lambda: list(client.list_tasks(job_id))) if GEN == 15 else (lambda: list(client.task.list(job_id)))
wait_for("all tasks completed", lambda: (lambda ts: (len(ts) == 3 and all(t.state == "completed" for t in ts), [(t.id, t.state) for t in ts]))(list_tasks()), timeout=60)
done = list_tasks()
for t in done:
    assert t.execution_info.exit_code == 0 and t.execution_info.result == "success", (t.id, t.execution_info)
    read = (lambda p: b"".join(client.download_task_file(job_id, t.id, p))) if GEN == 15 else (lambda p: b"".join(client.file.get_from_task(job_id, t.id, p)))
    name = f"taskdata{t.id[-1]}.txt"
    assert read("stdout.txt").decode() == f"line one of {name}\nline two of {name}\n", read("stdout.txt")

# 4. The results, read back from storage.
got = sorted(b.name for b in outputs.list_blobs())
expected = sorted([f"Task{i}/result.txt" for i in range(3)] + [f"Task{i}/logs/{s}" for i in range(3) for s in ("stdout.txt", "stderr.txt")])
assert got == expected, got
for i in range(3):
    assert outputs.download_blob(f"Task{i}/result.txt").readall() == b"2\n"
    assert outputs.download_blob(f"Task{i}/logs/stdout.txt").readall().startswith(b"line one of taskdata")

# 5. Clean up as the quickstart does.
if GEN == 15:
    client.begin_delete_job(job_id).result()
    client.begin_delete_pool(pool_id).result()
else:
    client.job.delete(job_id)
    client.pool.delete(pool_id)
inputs.delete_container()
outputs.delete_container()
print(f"flow: OK (azure-batch {GEN}.x)")
