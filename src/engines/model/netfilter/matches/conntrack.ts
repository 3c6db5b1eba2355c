import type { CtState, MatchFactory, PacketContext } from "../match.js";
import { MatchOptions } from "./match-options.js";

const states: readonly CtState[] = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"];

function parseStates(text: string, options: MatchOptions, flag: string, natStates: boolean): Set<string> {
  const wanted = new Set<string>();
  for (const name of text.split(",")) {
    const upper = name.toUpperCase();
    // xt_state knows no SNAT/DNAT: only --ctstate does.
    if (natStates && (upper === "SNAT" || upper === "DNAT")) {
      wanted.add(upper);
      continue;
    }
    if (!states.includes(upper as CtState)) throw options.error(`--${flag}: unknown state "${name}" (${[...states, ...(natStates ? ["SNAT", "DNAT"] : [])].join(", ")})`);
    wanted.add(upper);
  }
  return wanted;
}

/** xt_conntrack's state bits: the packet's state, plus SNAT/DNAT when NAT changed its connection. */
function stateMatches(wanted: ReadonlySet<string>, context: PacketContext): boolean {
  if (wanted.has(context.ctState)) return true;
  const natted = context.connection?.natted;
  return natted !== undefined && ((wanted.has("SNAT") && natted("src")) || (wanted.has("DNAT") && natted("dst")));
}

/** `-m conntrack --ctstate` and `--ctdir` (xt_conntrack.c); the other --ct* options are refused by name. */
export const conntrackMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("conntrack", rawOptions, where);
  options.refuse(["ctproto", "ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst", "ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport", "ctstatus", "ctexpire"]);
  const stateOption = options.get("ctstate");
  const directionOption = options.get("ctdir");
  const wanted = stateOption ? parseStates(stateOption.args[0]!, options, "ctstate", true) : null;
  const stateNegated = stateOption?.negated ?? false;
  let wantReply: boolean | null = null;
  if (directionOption) {
    const direction = directionOption.args[0]!.toUpperCase();
    if (direction !== "ORIGINAL" && direction !== "REPLY") throw options.error(`--ctdir ${direction}: expected ORIGINAL or REPLY`);
    wantReply = (direction === "REPLY") !== directionOption.negated;
  }
  return (_packet, context) => {
    if (wanted && stateMatches(wanted, context) === stateNegated) return false;
    if (wantReply !== null && context.ctReply !== wantReply) return false;
    return true;
  };
};

/** `-m state --state` (xt_state.c), the older spelling of --ctstate. */
export const stateMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("state", rawOptions, where);
  const option = options.get("state");
  if (!option) throw options.error(`--state is required`);
  const wanted = parseStates(option.args[0]!, options, "state", false);
  const negated = option.negated;
  return (_packet, context) => wanted.has(context.ctState) !== negated;
};
