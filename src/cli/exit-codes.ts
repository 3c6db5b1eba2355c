/** Exit codes, the same for every command (STYLE.md): the JSON and JUnit reports carry the same outcome. */
export const EXIT_PASSED = 0;
export const EXIT_EXPECTATION_FAILED = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_ENVIRONMENT = 3;
export const EXIT_INTERNAL = 4;

/** Error families a user causes by what they give us; their message already says what to do. */
const BAD_INPUT_CLASSES = new Set([
  "ScenarioError",
  "PolicyError",
  "RulesetError",
  "CaptureError",
  "AddressError",
  "PacketError",
  "CommandLineError",
  "TuneError",
  "MergeError",
  "OutputError",
  "InputFileError",
  "PacketBudgetError",
  "DefenceError",
]);

export function exitCodeFor(error: unknown): number {
  if (!(error instanceof Error)) return EXIT_INTERNAL;
  if (error.name === "EngineUnavailableError" || error.constructor.name === "EngineUnavailableError") return EXIT_ENVIRONMENT;
  if (BAD_INPUT_CLASSES.has(error.constructor.name) || BAD_INPUT_CLASSES.has(error.name)) return EXIT_BAD_INPUT;
  return EXIT_INTERNAL;
}

export class CommandLineError extends Error {
  readonly code = "CLI_USAGE";
}
