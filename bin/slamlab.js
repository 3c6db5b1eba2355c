#!/usr/bin/env node
// The CLI is compiled by `npm ci` (the prepare script); this shim keeps the bin path stable.
import { main } from "../dist/src/cli/main.js";

process.exitCode = await main(process.argv);
