import { Command, CommanderError } from "commander";
import { EXIT_BAD_INPUT, EXIT_INTERNAL, exitCodeFor } from "./exit-codes.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../package-root.js";

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

type Registrar = (program: Command) => void;

/**
 * Each command's module by the names it registers, loaded only when asked
 * for: loading every command's code (the model engine, the docker engine,
 * the scenario schema) took 0.4 s before any command ran, most of a small
 * `capture inspect` or `firewall generate`. In the order help lists them.
 */
const commandModules: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Registrar> }> = [
  { names: ["simulate"], load: async () => (await import("./commands/simulate.js")).registerSimulateCommand },
  { names: ["test"], load: async () => (await import("./commands/test.js")).registerTestCommand },
  { names: ["scenarios"], load: async () => (await import("./commands/scenarios.js")).registerScenariosCommand },
  { names: ["firewall"], load: async () => (await import("./commands/firewall.js")).registerFirewallCommand },
  { names: ["capture"], load: async () => (await import("./commands/capture.js")).registerCaptureCommand },
  { names: ["images", "clean"], load: async () => (await import("./commands/lab.js")).registerLabCommands },
  { names: ["diff"], load: async () => (await import("./commands/diff.js")).registerDiffCommand },
  { names: ["tune"], load: async () => (await import("./commands/tune.js")).registerTuneCommand },
  { names: ["compare"], load: async () => (await import("./commands/compare.js")).registerCompareCommand },
];

/** The command the arguments name (the first that is not an option), or undefined: help, a typo, no command at all. */
function commandNamed(argv: readonly string[]): string | undefined {
  return argv.slice(2).find((argument) => !argument.startsWith("-"));
}

/** The program with the command `argv` names, or with every command when it names none of them (help and its suggestions need them all). */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command("slamlab")
    .description("Test and simulate SIP anti-slamming firewalls: real captures, synthetic floods, netfilter semantics")
    .version(packageVersion(), "-V, --version", "print slamlab's version")
    .option("--debug", "print stack traces for errors")
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  const named = commandNamed(argv);
  const asked = commandModules.filter((module) => named !== undefined && module.names.includes(named));
  // `slamlab --version` alone needs no command at all.
  const versionOnly = named === undefined && argv.some((argument) => argument === "-V" || argument === "--version") && !argv.some((argument) => argument === "-h" || argument === "--help");
  const loading = asked.length > 0 ? asked : versionOnly ? [] : commandModules;
  for (const register of await Promise.all(loading.map((module) => module.load()))) register(program);
  return program;
}

/** Runs the CLI and returns the process exit code; errors become one line plus a hint, stacks only with --debug. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv);
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
