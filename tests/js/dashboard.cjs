// Drives the emulator's dashboard in headless Chromium (Debian's `chromium`, through
// playwright-core) while the official JavaScript SDK (@azure/batch 10.2.0) changes the account.
//
// usage: node dashboard.cjs URL ACCOUNT KEY DASHBOARD_LINK   (CHROMIUM: the browser binary)
//
// Checks that a running task's stdout appears in the page while the task still runs (and its
// stderr once written), that the heat map shows a node's state change, that the job view's state
// filter works, that the node file browser lists and opens the task's stdout, that a node can be
// made unusable from its page (the emulator runs with --dashboard-actions), and that the recent
// requests show the SDK's calls. Prints "dashboard: OK"; exits non-zero on the first
// failed check.
"use strict";
const assert = require("node:assert/strict");
const { BatchServiceClient, BatchSharedKeyCredentials } = require("@azure/batch");
const { chromium } = require("playwright-core");

const [url, account, key, link] = process.argv.slice(2);
const client = new BatchServiceClient(new BatchSharedKeyCredentials(account, key), url);
const { waitFor, plainPool } = require("./shared.cjs");
const run = Math.random().toString(16).slice(2, 10);
const poolId = `dash-pool-${run}`;
const jobId = `dash-job-${run}`;
const TIMEOUT = 30000;

async function main() {
  await client.pool.add(plainPool(poolId, 2));
  await client.job.add({ id: jobId, poolInfo: { poolId } });

  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && !/401|404|Failed to load resource/.test(m.text()) && problems.push(`console: ${m.text()}`));

  // The task's page is open before the task runs; its output must appear as it is written.
  await page.goto(`${link}#/jobs/${jobId}/tasks/t1`);
  await client.task.add(jobId, {
    id: "t1",
    commandLine: "/bin/sh -c 'echo first line; sleep 2; echo second line; sleep 4; echo an error line >&2; exit 3'",
  });
  await page.waitForFunction(() => (document.querySelector("#stdout") || {}).textContent?.includes("first line"), null, { timeout: TIMEOUT });
  const early = await page.textContent("#stdout");
  assert.ok(!early.includes("second line"), `the second line was not written yet: ${early}`);
  await page.waitForFunction(() => document.querySelector("#stdout").textContent.includes("second line"), null, { timeout: TIMEOUT });
  const meanwhile = await client.task.get(jobId, "t1");
  assert.equal(meanwhile.state, "running", "stdout is shown live, while the task runs");
  await page.waitForFunction(() => document.querySelector("#stderr").textContent.includes("an error line"), null, { timeout: TIMEOUT });
  await page.waitForFunction(() => document.querySelector("#task-state-pill")?.textContent === "completed", null, { timeout: TIMEOUT });
  assert.equal(await page.textContent("#stdout"), "first line\nsecond line\n");
  const props = await page.textContent("#live");
  assert.ok(props.includes("Exit code") && props.includes("3"), props);
  const done = await client.task.get(jobId, "t1");
  const nodeId = done.nodeInfo.nodeId;

  // The heat map: both nodes idle, then one offline when its scheduling is disabled.
  await page.goto(`${link}#/pools`);
  const cell = (id) => `.heatmap[data-pool="${poolId}"] .node[data-node-id="${id}"]`;
  await page.waitForSelector(cell(nodeId), { timeout: TIMEOUT });
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state === "idle", cell(nodeId), { timeout: TIMEOUT });
  assert.equal(await page.locator(`.heatmap[data-pool="${poolId}"] .node`).count(), 2);
  await client.computeNode.disableScheduling(poolId, nodeId);
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state === "offline", cell(nodeId), { timeout: TIMEOUT });
  await client.computeNode.enableScheduling(poolId, nodeId);
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state === "idle", cell(nodeId), { timeout: TIMEOUT });

  // The job view's state filter.
  await client.task.add(jobId, { id: "t2", commandLine: "/bin/sh -c 'sleep 30'" });
  await waitFor("t2 running", async () => { const t = await client.task.get(jobId, "t2"); return [t.state === "running", t.state]; });
  await page.goto(`${link}#/jobs/${jobId}`);
  await page.waitForSelector('tr[data-task="t2"]', { timeout: TIMEOUT });
  await page.selectOption("#task-state", "completed");
  await page.waitForFunction(() => !document.querySelector('tr[data-task="t2"]') && document.querySelector('tr[data-task="t1"]'), null, { timeout: TIMEOUT });
  await page.selectOption("#task-state", "running");
  await page.waitForFunction(() => document.querySelector('tr[data-task="t2"]') && !document.querySelector('tr[data-task="t1"]'), null, { timeout: TIMEOUT });
  await client.task.terminate(jobId, "t2");
  // And the jobs list's.
  await page.goto(`${link}#/jobs`);
  await page.waitForSelector(`tr[data-job="${jobId}"]`, { timeout: TIMEOUT });
  await page.selectOption("#jobs-state", "completed");
  await page.waitForFunction((id) => !document.querySelector(`tr[data-job="${id}"]`), jobId, { timeout: TIMEOUT });
  await page.selectOption("#jobs-state", "active");
  await page.waitForSelector(`tr[data-job="${jobId}"]`, { timeout: TIMEOUT });

  // The node file browser: the task's stdout is listed and opens.
  await page.goto(`${link}#/pools/${poolId}/nodes/${nodeId}`);
  const stdoutRow = `table.files tr[data-file$="/t1/stdout.txt"] a`;
  await page.waitForSelector(stdoutRow, { timeout: TIMEOUT });
  await page.click(stdoutRow);
  await page.waitForFunction(() => document.querySelector("pre.file-content")?.textContent === "first line\nsecond line\n", null, { timeout: TIMEOUT });

  // With --dashboard-actions: a node made unusable from its page.
  await page.click("#make-unusable");
  await page.waitForFunction(() => document.querySelector("h2 .pill")?.dataset.state === "unusable", null, { timeout: TIMEOUT });
  const unusable = await client.computeNode.get(poolId, nodeId);
  assert.equal(unusable.state, "unusable");

  // The recent requests show the SDK's calls with their status.
  await page.goto(`${link}#/requests`);
  await page.waitForSelector('tr[data-operation="disable_node_scheduling"][data-status="200"]', { timeout: TIMEOUT });
  await page.waitForSelector('tr[data-operation="create_task"][data-status="201"]', { timeout: TIMEOUT });

  // Without the token the page says so, and shows no data.
  const stranger = await browser.newPage();
  await stranger.goto(link.replace(/\?token=.*/, "") + "#/pools");
  await stranger.waitForFunction(() => document.querySelector("#status").textContent.includes("token"), null, { timeout: TIMEOUT });
  assert.equal(await stranger.locator(".heatmap").count(), 0);

  await browser.close();
  assert.deepEqual(problems, []);
  await client.job.deleteMethod(jobId);
  await client.pool.deleteMethod(poolId);
  console.log("dashboard: OK");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
