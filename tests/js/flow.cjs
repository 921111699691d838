// Drives a running batch-emulator with the official JavaScript SDK (@azure/batch 10.2.0, or
// the package BATCH_SDK names: `@azure/batch-8` is 8.0.0, installed under that alias).
//
// usage: [BATCH_SDK=@azure/batch-8] node flow.cjs URL ACCOUNT KEY
//
// Creates a pool, a job and a process task, reads the task's stdout, lists with a filter and
// paging, and deletes the task, job and pool: the SDK signs a body-less DELETE with an empty
// Content-Length (the issue-11 case). Prints "flow: OK" at the end; exits non-zero on the first
// failed assertion.
"use strict";
const assert = require("node:assert/strict");
const sdk = process.env.BATCH_SDK || "@azure/batch";
const { BatchServiceClient, BatchSharedKeyCredentials } = require(sdk);

const [url, account, key] = process.argv.slice(2);
const client = new BatchServiceClient(new BatchSharedKeyCredentials(account, key), url);
const { waitFor, plainPool } = require("./shared.cjs");
const run = Math.random().toString(16).slice(2, 10);
const poolId = `js-pool-${run}`;
const jobId = `js-job-${run}`;

async function text(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks).toString();
}

async function main() {
  await client.pool.add(plainPool(poolId, 1));
  const nodes = await waitFor("an idle node", async () => {
    const ns = await client.computeNode.list(poolId);
    return [ns.length === 1 && ns[0].state === "idle", ns];
  });
  assert.ok(nodes[0].ipAddress.startsWith("127."), nodes[0].ipAddress);

  await client.job.add({ id: jobId, poolInfo: { poolId } });
  await assert.rejects(client.job.add({ id: jobId, poolInfo: { poolId } }), (e) => e.statusCode === 409 && e.code === "JobExists");

  await client.task.add(jobId, {
    id: "t1",
    commandLine: "/bin/sh -c 'echo hello from $AZ_BATCH_TASK_ID'",
    environmentSettings: [{ name: "MY_SETTING", value: "x" }],
  });
  const task = await waitFor("a completed task", async () => {
    const t = await client.task.get(jobId, "t1");
    return [t.state === "completed", t];
  });
  assert.equal(task.executionInfo.exitCode, 0);
  assert.equal(task.executionInfo.result, "success");
  const file = await client.file.getFromTask(jobId, "t1", "stdout.txt");
  assert.equal(await text(file.readableStreamBody), "hello from t1\n");
  const props = await client.file.getPropertiesFromTask(jobId, "t1", "stdout.txt");
  assert.equal(Number(props.contentLength), "hello from t1\n".length);

  for (let i = 2; i <= 4; i++) await client.task.add(jobId, { id: `t${i}`, commandLine: "/bin/true" });
  const page = await client.task.list(jobId, { taskListOptions: { maxResults: 2, filter: "startswith(id, 't')" } });
  assert.equal(page.length, 2);
  assert.ok(page.odatanextLink, "a second page");
  const rest = await client.task.listNext(page.odatanextLink);
  assert.equal(page.length + rest.length, 4);

  // Body-less DELETEs, each signed by the SDK with an empty Content-Length.
  await client.task.deleteMethod(jobId, "t4");
  await assert.rejects(client.task.get(jobId, "t4"), (e) => e.statusCode === 404 && e.code === "TaskNotFound");
  await client.file.deleteFromTask(jobId, "t1", "stdout.txt");
  await client.job.deleteMethod(jobId);
  await waitFor("the job gone", async () => {
    try {
      return [false, await client.job.get(jobId)];
    } catch (e) {
      return [e.statusCode === 404, e.code];
    }
  });
  await client.pool.deleteMethod(poolId);
  await assert.rejects(client.pool.deleteMethod(`missing-${run}`), (e) => e.statusCode === 404 && e.code === "PoolNotFound");
  console.log("flow: OK");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
