import { parseIpsetSave } from "../../../firewall/ipset.js";
import { parseAddress } from "../../../net/address-number.js";
import type { KernelSettings } from "../kernel-settings.js";
import type { MatchState } from "./match.js";
import { loadIpsets } from "./matches/set.js";

/**
 * The state a firewall's matches start from: the host's own addresses, and
 * the sets an `ipset restore` of the given file makes (loaded at the run's
 * first jiffy, before the ruleset, as a host's boot would).
 */
export function firewallState(settings: KernelSettings, localAddresses: readonly string[] = [], ipset?: { readonly path: string; readonly text: string }, wallClockStartMs?: number): MatchState {
  const state: MatchState = { settings, tables: new Map(), localAddresses: localAddresses.map(parseAddress), ...(wallClockStartMs === undefined ? {} : { wallClockStartMs }) };
  if (ipset) loadIpsets(state, parseIpsetSave(ipset.text, ipset.path), settings.startJiffies);
  return state;
}
