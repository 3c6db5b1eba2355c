import { RulesetError, type RuleOption } from "../../../../firewall/ruleset.js";

/** Reads one match's options and reports misuse with the rule's line. */
export class MatchOptions {
  constructor(
    readonly module: string,
    readonly options: readonly RuleOption[],
    readonly where: { line: number; text: string },
  ) {}

  get(name: string): RuleOption | undefined {
    return this.options.find((option) => option.name === name);
  }

  has(name: string): boolean {
    return this.options.some((option) => option.name === name);
  }

  value(name: string): string | undefined {
    return this.get(name)?.args[0];
  }

  error(message: string, code = "RULESET_BAD_OPTION"): RulesetError {
    return new RulesetError(code, `-m ${this.module}: ${message}`, this.where.line);
  }

  /** Options the model does not interpret are refused by name, never ignored. */
  refuse(names: readonly string[]): void {
    for (const name of names) {
      if (this.has(name)) {
        throw this.error(`--${name} is not interpreted by the model engine; run this ruleset with --engine docker`, "RULESET_UNSUPPORTED");
      }
    }
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const text = this.value(name);
    if (text === undefined) return fallback;
    const value = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : Number.NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw this.error(`--${name} ${text}: expected an integer from ${min} to ${max}`);
    }
    return value;
  }
}
