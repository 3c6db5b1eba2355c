import { Command, CommanderError } from "commander";
import { registerCaptureCommand } from "./commands/capture.js";
import { registerCompareCommand } from "./commands/compare.js";
import { registerDiffCommand } from "./commands/diff.js";
import { registerFirewallCommand } from "./commands/firewall.js";
import { registerLabCommands } from "./commands/lab.js";
import { registerScenariosCommand } from "./commands/scenarios.js";
import { registerSimulateCommand } from "./commands/simulate.js";
import { registerTestCommand } from "./commands/test.js";
import { registerTuneCommand } from "./commands/tune.js";
import { EXIT_BAD_INPUT, EXIT_INTERNAL, exitCodeFor } from "./exit-codes.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../package-root.js";

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command("slamlab")
    .description("Test and simulate SIP anti-slamming firewalls: real captures, synthetic floods, netfilter semantics")
    .version(packageVersion(), "-V, --version", "print slamlab's version")
    .option("--debug", "print stack traces for errors")
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  registerSimulateCommand(program);
  registerTestCommand(program);
  registerScenariosCommand(program);
  registerFirewallCommand(program);
  registerCaptureCommand(program);
  registerLabCommands(program);
  registerDiffCommand(program);
  registerTuneCommand(program);
  registerCompareCommand(program);
  return program;
}

/** Runs the CLI and returns the process exit code; errors become one line plus a hint, stacks only with --debug. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  const debug = argv.includes("--debug");
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are "errors" to commander; usage mistakes are bad input.
      return error.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
    }
    const exitCode = exitCodeFor(error);
    const code = (error as { code?: unknown }).code;
    const label = typeof code === "string" ? ` [${code}]` : "";
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`slamlab: error${label}: ${message}\n`);
    if (exitCode === EXIT_INTERNAL && !debug) process.stderr.write("slamlab: this is a bug in slamlab; rerun with --debug for the stack trace\n");
    if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCode;
  }
}
