import { CommandLineError } from "./exit-codes.js";

export function parseSeed(text: string): number {
  const seed = Number(text);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) {
    throw new CommandLineError(`--seed ${text}: expected a whole number from 0 to ${2 ** 31 - 1}`);
  }
  return seed;
}
