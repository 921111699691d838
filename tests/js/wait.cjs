// What the Node scripts share: waiting for a condition the emulator reaches asynchronously.
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

module.exports = { waitFor };
