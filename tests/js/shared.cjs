// What the Node scripts share: waiting for a condition the emulator reaches asynchronously, and
// the body of a plain pool.
"use strict";

/** Calls `check` (which returns `[done, value]`) until done, for at most `seconds`; the value. */
async function waitFor(what, check, seconds = 60, everyMs = 200) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const [done, value] = await check();
    if (done) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A plain Ubuntu pool of `dedicated` nodes (the image is echoed: nodes run on this machine). */
function plainPool(id, dedicated) {
  return {
    id,
    vmSize: "standard_d2s_v3",
    targetDedicatedNodes: dedicated,
    virtualMachineConfiguration: {
      imageReference: { publisher: "canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts" },
      nodeAgentSKUId: "batch.node.ubuntu 22.04",
    },
  };
}

module.exports = { waitFor, plainPool };
