import type { MatchFactory } from "./match.js";
import { commentMatch } from "./matches/comment.js";
import { connlimitMatch } from "./matches/connlimit.js";
import { conntrackMatch, stateMatch } from "./matches/conntrack.js";
import { hashlimitMatch } from "./matches/hashlimit.js";
import { hlMatch, ttlMatch } from "./matches/hop-limit.js";
import { icmp6Match } from "./matches/icmp6.js";
import { rtMatch } from "./matches/routing-header.js";
import { rpfilterMatch } from "./matches/rpfilter.js";
import { dscpMatch, tosMatch } from "./matches/dscp-tos.js";
import { addrtypeMatch, icmpMatch, iprangeMatch, lengthMatch, pkttypeMatch } from "./matches/header-matches.js";
import { connmarkMatch, helperMatch, markMatch } from "./matches/mark-matches.js";
import { setMatch } from "./matches/set.js";
import { limitMatch } from "./matches/limit.js";
import { multiportMatch } from "./matches/multiport.js";
import { recentMatch } from "./matches/recent.js";
import { stringMatch } from "./matches/string.js";
import { u32Match } from "./matches/u32.js";
import { tcpMatch, udpMatch } from "./matches/udp.js";
import { timeMatch } from "./matches/time.js";
import { tcpmssMatch } from "./matches/tcp-options.js";
import { ecnMatch } from "./matches/ecn.js";
import { statisticMatch } from "./matches/statistic.js";
import { quotaMatch } from "./matches/quota.js";
import { policyMatch } from "./matches/policy.js";

/** Every match module the model interprets; anything else is refused by name. */
export const matchFactories: Readonly<Record<string, MatchFactory>> = {
  udp: udpMatch,
  tcp: tcpMatch,
  tcpmss: tcpmssMatch,
  ecn: ecnMatch,
  statistic: statisticMatch,
  quota: quotaMatch,
  policy: policyMatch,
  multiport: multiportMatch,
  string: stringMatch,
  u32: u32Match,
  comment: commentMatch,
  recent: recentMatch,
  hashlimit: hashlimitMatch,
  limit: limitMatch,
  conntrack: conntrackMatch,
  state: stateMatch,
  iprange: iprangeMatch,
  length: lengthMatch,
  pkttype: pkttypeMatch,
  addrtype: addrtypeMatch,
  icmp: icmpMatch,
  icmp6: icmp6Match,
  ttl: ttlMatch,
  hl: hlMatch,
  rt: rtMatch,
  rpfilter: rpfilterMatch,
  dscp: dscpMatch,
  tos: tosMatch,
  mark: markMatch,
  connmark: connmarkMatch,
  helper: helperMatch,
  set: setMatch,
  time: timeMatch,
  connlimit: connlimitMatch,
};
