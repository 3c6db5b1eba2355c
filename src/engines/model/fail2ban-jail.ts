import type { Fail2banDefence } from "../../scenario/scenario.js";

/**
 * fail2ban's asterisk jail as it decides (fail2ban 1.x, server/failmanager.py
 * and jail.conf): each log line its filter matches is a failure of the
 * address it names; an address with `maxretry` failures within `findtime`
 * seconds is banned for `bantime` seconds, its count cleared; lines about an
 * address already banned add nothing. The ban reaches the kernel
 * `banDelayUs` after the line that tipped it (the log read, the action run),
 * as an element added to the ipset its REJECT rule matches.
 */
export class Fail2banJail {
  private readonly failures = new Map<string, number[]>();
  private readonly bannedUntilUs = new Map<string, number>();
  /** Bans in the order they were decided: address and when it reached the kernel. */
  readonly bans: Array<{ address: string; atUs: number }> = [];

  constructor(
    private readonly jail: Fail2banDefence,
    private readonly ban: (address: string, atUs: number) => void,
  ) {}

  /** A failure line about `address`, written at `atUs`. */
  failure(address: string, atUs: number): void {
    const until = this.bannedUntilUs.get(address);
    if (until !== undefined && atUs < until) return;
    const findUs = this.jail.findtimeSeconds * 1_000_000;
    const times = (this.failures.get(address) ?? []).filter((time) => atUs - time < findUs);
    times.push(atUs);
    if (times.length < this.jail.maxretry) {
      this.failures.set(address, times);
      return;
    }
    this.failures.delete(address);
    const bannedAtUs = atUs + this.jail.banDelayUs;
    this.bannedUntilUs.set(address, bannedAtUs + this.jail.bantimeSeconds * 1_000_000);
    this.bans.push({ address, atUs: bannedAtUs });
    this.ban(address, bannedAtUs);
  }
}
