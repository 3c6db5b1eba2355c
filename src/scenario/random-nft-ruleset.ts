import { randomInt, type Random } from "../traffic/random.js";

/**
 * Random nftables rulesets for the differential suite, recombining what nft
 * users write against SIP scanners: a SIP method caught by a raw payload
 * match (nft has no string match), a global limit, a per-source limit in a
 * dynamic set that fills a block set with a timeout, a meter, a regular
 * chain reached by jump or goto, a second table whose base chain runs first,
 * anonymous and named sets, ct state, reject, counters and log statements;
 * with `maps`, verdict maps (named and in the rule) and a data map too.
 */

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (random: Random, probability: number): boolean => random() < probability;

/** A method's first bytes as nft compares them after the UDP header (@th,64,LENGTH). */
function methodPayload(random: Random, method: string): string {
  const bytes = Math.min(method.length, pick(random, [4, 8, method.length]));
  return `@th,64,${bytes * 8} 0x${Buffer.from(method.slice(0, bytes)).toString("hex")}`;
}

/** With `iax2` (a stream of its own), IAX2 REGREQs get a per-source limit of their own, told by the full frame's F bit and its type and subclass. */
export function randomNftRuleset(random: Random, addresses: readonly string[], options: { maps?: boolean; iax2?: Random } = {}): string {
  const singles = addresses.filter((address) => !address.includes("/"));
  const sets: string[] = [];
  const rules: string[] = [];
  const chains: string[] = [];
  const policyDrop = chance(random, 0.2);
  rules.push('iifname "lo" accept');
  const maps = options.maps === true;
  if (chance(random, 0.3)) rules.push(pick(random, maps ? ["ct state vmap { established : accept, related : accept, invalid : drop }", "ct state vmap { established : accept, related : accept }"] : ["ct state established,related accept", "ct state { established, related } counter accept"]));
  if (chance(random, maps ? 0.5 : 0.25)) {
    if (!maps) {
      sets.push(`\tset allowed {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { ${pick(random, addresses)} }\n\t}`);
      rules.push("ip saddr @allowed accept");
    } else {
      // An allowed site accepted and another address dropped outright, by one map.
      const [allowed, banned] = [pick(random, addresses), pick(random, singles.length ? singles : addresses)];
      const elements = allowed === banned ? `${allowed} : accept` : `${allowed} : accept, ${banned} : drop`;
      if (chance(random, 0.5)) {
        sets.push(`\tmap by_source {\n\t\ttype ipv4_addr : verdict\n\t\tflags interval\n\t\telements = { ${elements} }\n\t}`);
        rules.push("ip saddr vmap @by_source");
      } else rules.push(`ip saddr vmap { ${elements} }`);
    }
  }
  if (maps && singles.length > 0 && chance(random, 0.4)) {
    // A data map marks some sources; a later rule drops what one mark names.
    const marked = singles.filter(() => chance(random, 0.5));
    if (marked.length) {
      sets.push(`\tmap marks {\n\t\ttype ipv4_addr : mark\n\t\telements = { ${marked.map((address, index) => `${address} : ${index + 1}`).join(", ")} }\n\t}`);
      rules.push("meta mark set ip saddr map @marks");
      rules.push(`meta mark ${randomInt(random, 1, marked.length)} udp dport 5060 counter drop`);
    }
  }
  if (chance(random, 0.1)) rules.push("ip saddr != 198.18.0.0/15 udp dport 5060 drop");
  const ports = pick(random, ["udp dport 5060", "udp dport { 5060, 5061 }", "meta l4proto udp th dport 5060"]);
  const method = chance(random, 0.8) ? "REGISTER" : pick(random, ["SUBSCRIBE", "REGISTER"]);
  const drop = chance(random, 0.2) ? pick(random, ["reject", "reject with icmp type port-unreachable", "reject with icmp type admin-prohibited"]) : "drop";
  const log = chance(random, 0.2) ? ` log prefix "sip-${randomInt(random, 1, 9)} "` : "";
  const useChain = chance(random, 0.3);
  const into: string[] = useChain ? [] : rules;
  const selector = useChain ? methodPayload(random, method) : `${ports} ${methodPayload(random, method)}`;
  const shape = pick(random, ["limit", "dynset", "dynset", "meter"] as const);
  if (shape === "limit") {
    into.push(`${selector} limit rate over ${randomInt(random, 1, 20)}/${pick(random, ["second", "minute"])} burst ${randomInt(random, 1, 10)} packets counter${log} ${drop}`);
  } else if (shape === "dynset") {
    const block = randomInt(random, 2, 6);
    sets.push(`\tset rate {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout ${randomInt(random, 10, 60)}s\n\t}`);
    sets.push(`\tset blocked {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout ${block}s\n\t}`);
    rules.splice(1, 0, `ip saddr @blocked counter ${drop}`);
    // update restarts a found element's timeout (held until quiet); add leaves it.
    const hold = chance(random, 0.4) ? "update" : "add";
    into.push(`${selector} update @rate { ip saddr limit rate over ${randomInt(random, 1, 20)}/${pick(random, ["second", "minute"])} burst ${randomInt(random, 1, 10)} packets } ${hold} @blocked { ip saddr } counter${log} ${drop}`);
  } else {
    into.push(`${selector} meter flood size ${pick(random, [2, 3, 1024, 65535])} { ip saddr limit rate over ${randomInt(random, 1, 20)}/second burst ${randomInt(random, 1, 10)} packets } counter${log} ${drop}`);
  }
  if (useChain) {
    const how = pick(random, ["jump", "goto"]);
    chains.push(`\tchain sipchk {\n${into.map((rule) => `\t\t${rule}`).join("\n")}\n\t\treturn\n\t}`);
    rules.push(maps && chance(random, 0.5) ? `udp dport vmap { 5060 : ${how} sipchk, 5061 : ${how} sipchk }` : `${ports} ${how} sipchk`);
  }
  if (options.iax2) {
    const iax = options.iax2;
    sets.push(`\tset iax_rate {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout ${randomInt(iax, 5, 60)}s\n\t}`);
    rules.splice(1, 0, `udp dport 4569 @th,64,8 & 0x80 == 0x80 @th,144,16 0x60d update @iax_rate { ip saddr limit rate over ${randomInt(iax, 1, 20)}/${pick(iax, ["second", "minute"])} burst ${randomInt(iax, 1, 12)} packets } counter ${chance(iax, 0.2) ? "reject" : "drop"}`);
  }
  if (policyDrop) rules.push("meta l4proto udp accept");
  const early =
    singles.length > 0 && chance(random, 0.25)
      ? `table ip guard {\n\tchain input {\n\t\ttype filter hook input priority ${pick(random, ["-10", "filter - 5", "-150"])}; policy accept;\n\t\tip saddr ${pick(random, singles)} counter ${pick(random, ["accept", "drop"])}\n\t}\n}\n`
      : "";
  return [
    "# seeded random nftables ruleset (differential suite)",
    "flush ruleset",
    early + `table inet filter {`,
    ...sets,
    ...chains,
    `\tchain input {\n\t\ttype filter hook input priority filter; policy ${policyDrop ? "drop" : "accept"};\n${rules.map((rule) => `\t\t${rule}`).join("\n")}\n\t}`,
    "}",
    "",
  ].join("\n");
}
