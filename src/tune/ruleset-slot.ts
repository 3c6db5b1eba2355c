/** One swept value of a user's ruleset: where it is and what it holds now. */
export interface RulesetSlot {
  /** As the user named it, for reports: `SIP-REG:2 --hitcount`. */
  readonly label: string;
  /** 1-based line of the rule in the file. */
  readonly line: number;
  readonly option: string;
  /** The value the file has (a duration in seconds). */
  readonly current: number;
  /** nft: where the value's text is in the file, and whether it is a duration (written as nft prints one). */
  readonly span?: { readonly start: number; readonly end: number; readonly duration: boolean };
  /** The smallest value the option takes (nft's rate, burst, timeout and size are at least 1). */
  readonly lowest?: number;
}
