import { RulesetError } from "./ruleset.js";

/**
 * Splits one ruleset line into words the way iptables-restore does
 * (add_param_to_argv in iptables/xshared.c): whitespace separates, double or
 * single quotes group, and a backslash inside quotes escapes the next
 * character. Quotes themselves are not part of the word.
 */
export function tokenizeRule(text: string, line: number): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quote) {
      if (char === "\\" && i + 1 < text.length) {
        word += text[++i];
      } else if (char === quote) {
        quote = null;
      } else {
        word += char;
      }
      continue;
    }
    if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (char === " " || char === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (quote) {
    throw new RulesetError("RULESET_SYNTAX", `unterminated ${quote === '"' ? "double" : "single"} quote; close it or escape it with a backslash`, line);
  }
  if (inWord) words.push(word);
  return words;
}
