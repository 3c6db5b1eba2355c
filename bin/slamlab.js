#!/usr/bin/env node
// The CLI is compiled by `npm ci` (the prepare script); this shim keeps the bin path stable.
import { main } from "../dist/src/cli/main.js";

// `slamlab scenarios | head` closes our stdout early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await main(process.argv);
