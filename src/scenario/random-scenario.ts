import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { randomInt, seededRandom, type Random } from "../traffic/random.js";
import { randomNftRuleset } from "./random-nft-ruleset.js";

/**
 * Seeded random scenarios for the differential suite (model vs kernel): a
 * random mix of sources, rates, address counts and port reuse, behind a
 * random generated policy or a random hand-written ruleset drawn from the
 * constructs the model engine claims to interpret. Runs are short (6-12 s of
 * traffic) with windows of a few seconds, so blocks, expiries and re-blocks all
 * happen inside one docker run.
 */
export interface RandomScenario {
  readonly name: string;
  /** The scenario document, ready for YAML. */
  readonly document: Record<string, unknown>;
  /** A hand-written ruleset the document names as `<name>.rules`; null when a policy is used. */
  readonly rulesetText: string | null;
  /** The `ipset save` text the document names as `<name>.ipset`; null when the ruleset uses no sets. */
  readonly ipsetText: string | null;
  /** The ip6tables-save text the document names as `<name>.v6`; absent when the scenario has no IPv6. */
  readonly ipv6RulesetText?: string;
}

/**
 * Seeds from here on always get a hand-written ruleset with what admins add
 * around their counters: ipset block lists (a banned set from a file, a SET
 * rule that fills one), iprange, length, addrtype and pkttype. Seeds below it
 * are drawn as they always were, so their published figures still rerun.
 */
export const ADMIN_RULESET_SEEDS_FROM = 1001;

/**
 * Seeds from here on also get the other tables admins write: a raw-table
 * blocklist and CT --notrack, mangle marks (MARK on REGISTERs that the
 * counters then select by, CONNMARK save/restore, DSCP on the PBX's own
 * signalling) and a nat table (REDIRECT of a second SIP port, MASQUERADE).
 */
export const TABLE_RULESET_SEEDS_FROM = 2001;

/**
 * Seeds from here on also get a -m connlimit rule: connections (a flow per
 * source port) per address or per /24, over a small limit, dropped.
 */
export const CONNLIMIT_RULESET_SEEDS_FROM = 3001;

/**
 * Seeds from here on get an nftables ruleset instead (random-nft-ruleset.ts),
 * drawn from a stream of its own; their scenarios' traffic is drawn as before.
 */
export const NFT_RULESET_SEEDS_FROM = 4001;

/**
 * Seeds from here on write some of their nftables decisions as maps: the
 * allowed sites, ct state and the way into the SIP chain as verdict maps
 * (named or in the rule), and a data map that marks sources.
 */
export const NFT_MAP_RULESET_SEEDS_FROM = 4201;

/**
 * Seeds from here on add IAX2 to their nftables scenarios, drawn from a
 * stream of their own: IAX2 phones (behind a NAT or on an address) and an
 * IAX2 guesser or peer walker, and a per-source limit on REGREQs (a masked
 * raw payload on the full frame) in the ruleset.
 */
export const IAX2_SEEDS_FROM = 5001;

/**
 * Seeds from here on add SIP over TCP, drawn from streams of their own: one
 * or two register floods over TCP (some cut inside the method, some several
 * requests a write, some a connection per request), and TCP rules in an
 * iptables ruleset around the admin's counters: INVALID dropped, SYNs counted
 * with recent, writes (PSH) limited by hashlimit, a string match on the
 * method, connections limited by connlimit.
 */
export const TCP_SEEDS_FROM = 6001;

/**
 * Seeds from here on add SIP over TLS, from streams of their own: a flood
 * over TLS (a connection per request or one kept, several requests a write
 * or not), TLS phones, and the rules admins can write for an encrypted port:
 * new connections counted with recent, writes limited by hashlimit,
 * connections limited by connlimit.
 */
export const TLS_SEEDS_FROM = 6101;

/**
 * Seeds from here on add IPv6, from streams of their own: the PBX gets an
 * IPv6 address, a flood comes from a /64 (rotating through it or each
 * address at its own pace), IPv6 phones register from another /64, and the
 * host's ip6tables rules count them: recent with and without a /64 mask
 * (sometimes on a list its iptables rules use too, whose first rule's mask
 * then holds for both), hashlimit by prefix, the method at offset 48.
 */
export const IPV6_SEEDS_FROM = 6201;

const PBX_ADDRESS = "198.51.100.10";
const PBX_ADDRESS6 = "2001:db8:100::10";
const FIRST_ACCOUNT = 200;
const ACCOUNT_COUNT = 40;

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (random: Random, probability: number): boolean => random() < probability;
const tenths = (random: Random, min: number, max: number): number => randomInt(random, min * 10, max * 10) / 10;

/** Hands out lab addresses and accounts so no two sources collide. */
class Allocator {
  private nextWanHost = 1;
  private nextRange = 1;
  private nextAccount = FIRST_ACCOUNT;

  wanAddress(): string {
    const host = this.nextWanHost++;
    return `198.18.${Math.floor(host / 200) + 1}.${(host % 200) + 10}`;
  }

  rangeCidr(): string {
    return `198.19.${this.nextRange++}.0/24`;
  }

  /** `count` accounts as a range, or null when every account is taken. */
  accounts(count: number): string | null {
    if (this.nextAccount + count > FIRST_ACCOUNT + ACCOUNT_COUNT) return null;
    const first = this.nextAccount;
    this.nextAccount += count;
    return `${first}-${first + count - 1}`;
  }
}

export function randomScenario(seed: number): RandomScenario {
  const random = seededRandom(seed ^ 0x5eed5eed);
  const name = `random-${seed}`;
  const durationSeconds = randomInt(random, 6, 12);
  const allocate = new Allocator();
  const hosts: Record<string, unknown> = {};
  const traffic: Record<string, unknown>[] = [];
  let officeUsed = false;

  const sourceCount = randomInt(random, 2, 5);
  for (let index = 0; index < sourceCount; index++) {
    const sourceName = `s${index}`;
    const start = tenths(random, 0, durationSeconds / 2);
    const kind = pick(random, ["phones", "register-flood", "register-flood", "broken-phone", "roaming-user", "blf-subscribe"] as const);
    if (kind === "register-flood") {
      const distributed = chance(random, 0.3);
      hosts[sourceName] = distributed ? { kind: "range", cidr: allocate.rangeCidr(), count: randomInt(random, 2, 8) } : { kind: "addresses", addresses: [allocate.wanAddress()] };
      const mode = pick(random, ["svwar", "svcrack"] as const);
      traffic.push({
        name: sourceName,
        kind,
        host: sourceName,
        mode,
        ratePps: chance(random, 0.15) ? randomInt(random, 50, 200) : tenths(random, 0.5, 30),
        startSeconds: start,
        durationSeconds: tenths(random, 1, durationSeconds - start),
        extensions: mode === "svcrack" ? `${FIRST_ACCOUNT}-${FIRST_ACCOUNT}` : `${FIRST_ACCOUNT}-${FIRST_ACCOUNT + 99}`,
        sourcePort: pick(random, [5060, "random", randomInt(random, 1024, 65000)] as const),
      });
      continue;
    }
    const accountCount = kind === "phones" ? randomInt(random, 1, 6) : 1;
    const accounts = allocate.accounts(accountCount);
    if (accounts === null) continue;
    const firstAccount = accounts.split("-")[0]!;
    if (kind === "phones") {
      const behindNat: boolean = !officeUsed && chance(random, 0.4);
      officeUsed ||= behindNat;
      hosts[sourceName] = behindNat ? { kind: "nat", public: allocate.wanAddress(), lan: "192.0.2.0/24" } : { kind: "addresses", addresses: [allocate.wanAddress()] };
      traffic.push({
        name: sourceName,
        kind,
        host: sourceName,
        count: behindNat ? accountCount : 1,
        accounts: behindNat ? accounts : `${firstAccount}-${firstAccount}`,
        startSeconds: start,
        spreadSeconds: tenths(random, 0, 3),
        wrongPassword: chance(random, 0.15),
      });
    } else if (kind === "broken-phone") {
      hosts[sourceName] = { kind: "addresses", addresses: [allocate.wanAddress()] };
      traffic.push({ name: sourceName, kind, host: sourceName, account: firstAccount, startSeconds: start, intervalSeconds: tenths(random, 0.3, 2), durationSeconds: tenths(random, 2, durationSeconds - start) });
    } else if (kind === "roaming-user") {
      hosts[sourceName] = { kind: "addresses", addresses: Array.from({ length: randomInt(random, 2, 3) }, () => allocate.wanAddress()) };
      traffic.push({ name: sourceName, kind, host: sourceName, account: firstAccount, startSeconds: start, moveEverySeconds: tenths(random, 2, 6) });
    } else {
      hosts[sourceName] = { kind: "addresses", addresses: [allocate.wanAddress()] };
      traffic.push({ name: sourceName, kind, host: sourceName, account: firstAccount, startSeconds: start, keys: randomInt(random, 1, 40), watch: `${FIRST_ACCOUNT}-${FIRST_ACCOUNT + ACCOUNT_COUNT - 1}` });
    }
  }
  if (seed >= IAX2_SEEDS_FROM) iax2Sources(seededRandom(seed ^ 0x1a72), allocate, hosts, traffic, officeUsed);
  if (seed >= TCP_SEEDS_FROM) tcpSources(seededRandom(seed ^ 0x7c9), allocate, hosts, traffic, durationSeconds);
  if (seed >= TLS_SEEDS_FROM) tlsSources(seededRandom(seed ^ 0x71d5), allocate, hosts, traffic, durationSeconds);
  if (seed >= IPV6_SEEDS_FROM) ipv6Sources(seededRandom(seed ^ 0x1f6), allocate, hosts, traffic, durationSeconds);
  if (!traffic.some((spec) => spec.kind === "register-flood")) {
    hosts.scan = { kind: "addresses", addresses: [allocate.wanAddress()] };
    traffic.push({ name: "scan", kind: "register-flood", host: "scan", mode: "svwar", ratePps: tenths(random, 1, 20), durationSeconds: durationSeconds / 2, onAnswerLikeRandom: "walk-on" });
  }
  // What must hold whatever the firewall does; the suite's real check is the engines' agreement.
  const expect = [
    ...traffic.filter((spec) => spec.kind === "register-flood").map((spec) => ({ source: spec.name, registered: "none", because: "a scanner holds no valid password" })),
    ...traffic.filter((spec) => spec.kind === "iax2-flood").map((spec) => ({ source: spec.name, passwordFound: false, because: "no peer's secret is in a guesser's dictionary" })),
  ];

  const addresses = Object.values(hosts).flatMap((host) => {
    const spec = host as { kind: string; addresses?: string[]; public?: string; cidr?: string };
    return spec.kind === "addresses" ? spec.addresses! : spec.kind === "nat" ? [spec.public!] : [spec.cidr!];
  }).filter((address) => !address.includes(":"));
  const ipv6 = seed >= IPV6_SEEDS_FROM;
  const admin = seed >= ADMIN_RULESET_SEEDS_FROM;
  const useRuleset = chance(random, 0.45) || admin;
  const document: Record<string, unknown> = {
    name,
    description: `seeded random scenario ${seed} for the differential suite (model vs kernel)`,
    seed,
    durationSeconds,
    firewall: useRuleset ? { ruleset: `${name}.rules`, ...(admin ? { ipset: `${name}.ipset` } : {}), ...(ipv6 ? { ruleset6: `${name}.v6` } : {}) } : { policy: randomPolicy(random, addresses) },
    pbx: { address: PBX_ADDRESS, ...(ipv6 ? { address6: PBX_ADDRESS6 } : {}), accounts: [{ users: `${FIRST_ACCOUNT}-${FIRST_ACCOUNT + ACCOUNT_COUNT - 1}`, password: "rnd-{user}-Pw" }] },
    hosts,
    traffic,
    expect,
  };
  if (seed >= NFT_RULESET_SEEDS_FROM && seed < TCP_SEEDS_FROM) {
    const iax2 = seed >= IAX2_SEEDS_FROM ? seededRandom(seed ^ 0x1a73) : undefined;
    return { name, document: { ...document, firewall: { ruleset: `${name}.rules` } }, rulesetText: randomNftRuleset(seededRandom(seed ^ 0x4e47), addresses, { maps: seed >= NFT_MAP_RULESET_SEEDS_FROM, ...(iax2 ? { iax2 } : {}) }), ipsetText: null };
  }
  if (!admin) return { name, document, rulesetText: useRuleset ? randomRuleset(random, addresses) : null, ipsetText: null };
  const extras = adminExtras(seededRandom(seed ^ 0xad317), addresses);
  const tables = seed >= TABLE_RULESET_SEEDS_FROM ? tableExtras(seededRandom(seed ^ 0x7ab1e), addresses) : null;
  const connlimit = seed >= CONNLIMIT_RULESET_SEEDS_FROM ? [connlimitRule(seededRandom(seed ^ 0xc011))] : [];
  if (seed >= TCP_SEEDS_FROM) connlimit.push(...tcpRules(seededRandom(seed ^ 0x7c8)));
  if (seed >= TLS_SEEDS_FROM) connlimit.push(...tlsRules(seededRandom(seed ^ 0x71d4)));
  const withTables: AdminExtras = tables ? { ...extras, first: [...tables.filterFirst, ...extras.first, ...connlimit], selector: `${extras.selector}${tables.selector}` } : extras;
  const rulesetText = `${randomRuleset(random, addresses, withTables)}${tables?.tablesText ?? ""}`;
  return { name, document, rulesetText, ipsetText: extras.ipset, ...(ipv6 ? { ipv6RulesetText: randomIpv6Ruleset(seededRandom(seed ^ 0x1f7), rulesetText) } : {}) };
}

/** IPv6 sources: a flood from a /64 and, most of the time, phones in another. */
function ipv6Sources(random: Random, allocate: Allocator, hosts: Record<string, unknown>, traffic: Record<string, unknown>[], durationSeconds: number): void {
  const rotate = chance(random, 0.6);
  hosts.v6scan = { kind: "range", cidr: `2001:db8:bad:${randomInt(random, 1, 0xfff).toString(16)}::/64`, count: rotate ? randomInt(random, 20, 200) : randomInt(random, 1, 4) };
  const mode = pick(random, ["svwar", "svcrack"] as const);
  const start = tenths(random, 0, durationSeconds / 2);
  traffic.push({
    name: "v6scan",
    kind: "register-flood",
    host: "v6scan",
    mode,
    ratePps: rotate ? tenths(random, 2, 40) : tenths(random, 0.5, 20),
    startSeconds: start,
    durationSeconds: tenths(random, 1, durationSeconds - start),
    extensions: mode === "svcrack" ? `${FIRST_ACCOUNT}-${FIRST_ACCOUNT}` : `${FIRST_ACCOUNT}-${FIRST_ACCOUNT + 99}`,
    sourcePort: pick(random, [5060, "random", randomInt(random, 1024, 65000)] as const),
    rotateAddresses: rotate,
    giveUpSeconds: pick(random, [10, 0]),
    onAnswerLikeRandom: "walk-on",
  });
  if (!chance(random, 0.7)) return;
  const count = randomInt(random, 1, 3);
  const accounts = allocate.accounts(count);
  if (!accounts) return;
  const office = randomInt(random, 1, 0xfff).toString(16);
  hosts.v6office = { kind: "addresses", addresses: Array.from({ length: count }, (_, index) => `2001:db8:600d:${office}::${(index + 0x21).toString(16)}`) };
  traffic.push({ name: "v6phones", kind: "phones", host: "v6office", count, accounts, startSeconds: tenths(random, 0, 2), spreadSeconds: tenths(random, 0, 2) });
}

/** The host's ip6tables rules: what admins copy from their iptables rules, per address or per prefix. */
function randomIpv6Ruleset(random: Random, ipv4Rules: string): string {
  const rules: string[] = ["-A INPUT -i lo -j ACCEPT"];
  const policyDrop = chance(random, 0.2);
  // With a DROP policy, IPv6 needs its neighbour discovery let in, as admins learn.
  if (policyDrop) rules.push("-A INPUT -p ipv6-icmp -j ACCEPT");
  if (chance(random, 0.2)) rules.push("-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
  if (chance(random, 0.1)) rules.push("-A INPUT -s 2001:db8:bad::/48 -p udp --dport 5060 -j DROP");
  const method = chance(random, 0.5) ? '-m string --string "REGISTER" --algo bm' : `-m string --string "REGISTER " --algo ${pick(random, ["bm", "kmp"])} --from 48 --to 57`;
  const at = `-p udp --dport 5060 ${method}`;
  const drop = chance(random, 0.2) ? "-j REJECT --reject-with icmp6-adm-prohibited" : "-j DROP";
  const counter = pick(random, ["recent", "recent", "hashlimit"] as const);
  if (counter === "recent") {
    // A list its iptables rules use too keeps the mask of whichever rule made it first.
    const shared = [...ipv4Rules.matchAll(/--name (\S+)/g)].map((match) => match[1]!);
    const list = shared.length && chance(random, 0.3) ? pick(random, shared) : pick(random, ["V6", "SIP6"]);
    const mask = pick(random, ["", " --mask ffff:ffff:ffff:ffff::", " --mask ffff:ffff:ffff:ff00::", " --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]);
    const seconds = randomInt(random, 1, 8);
    const hits = randomInt(random, 2, 15);
    rules.push(`-A INPUT ${at} -m recent --set --name ${list}${mask} --rsource`);
    rules.push(`-A INPUT ${at} -m recent ${pick(random, ["--update", "--rcheck"])} --seconds ${seconds} --hitcount ${hits} --name ${list}${mask} --rsource ${drop}`);
  } else {
    const srcmask = pick(random, ["", " --hashlimit-srcmask 64", " --hashlimit-srcmask 56", " --hashlimit-srcmask 48"]);
    rules.push(`-A INPUT ${at} -m hashlimit --hashlimit-above ${randomInt(random, 1, 20)}/${pick(random, ["sec", "min"])} --hashlimit-burst ${randomInt(random, 1, 10)} --hashlimit-mode srcip${srcmask} --hashlimit-name v6h ${drop}`);
  }
  if (policyDrop) rules.push("-A INPUT -p udp -j ACCEPT");
  return ["# seeded random ip6tables ruleset (differential suite)", "*filter", `:INPUT ${policyDrop ? "DROP" : "ACCEPT"} [0:0]`, ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...rules, "COMMIT", ""].join("\n");
}

/** SIP floods over TCP, drawn from a stream of their own. */
function tcpSources(random: Random, allocate: Allocator, hosts: Record<string, unknown>, traffic: Record<string, unknown>[], durationSeconds: number): void {
  const count = randomInt(random, 1, 2);
  for (let index = 0; index < count; index++) {
    const name = `tcp${index}`;
    hosts[name] = { kind: "addresses", addresses: [allocate.wanAddress()] };
    const mode = pick(random, ["svwar", "svcrack"] as const);
    const start = tenths(random, 0, durationSeconds / 2);
    traffic.push({
      name,
      kind: "register-flood",
      host: name,
      mode,
      transport: "tcp",
      ratePps: tenths(random, 0.5, 20),
      startSeconds: start,
      durationSeconds: tenths(random, 1, durationSeconds - start),
      extensions: mode === "svcrack" ? `${FIRST_ACCOUNT}-${FIRST_ACCOUNT}` : `${FIRST_ACCOUNT}-${FIRST_ACCOUNT + 99}`,
      sourcePort: pick(random, [randomInt(random, 20_000, 60_000), randomInt(random, 20_000, 60_000), "random"] as const),
      splitMethod: chance(random, 0.4),
      requestsPerWrite: pick(random, [1, 1, 1, 2, 3]),
      giveUpSeconds: pick(random, [10, 0]),
      onAnswerLikeRandom: "walk-on",
    });
  }
}

/** SIP over TLS, drawn from a stream of their own: a flood, and phones or not. */
function tlsSources(random: Random, allocate: Allocator, hosts: Record<string, unknown>, traffic: Record<string, unknown>[], durationSeconds: number): void {
  hosts.tls = { kind: "addresses", addresses: [allocate.wanAddress()] };
  const mode = pick(random, ["svwar", "svcrack"] as const);
  const start = tenths(random, 0, durationSeconds / 2);
  traffic.push({
    name: "tls",
    kind: "register-flood",
    host: "tls",
    mode,
    transport: "tls",
    ratePps: tenths(random, 0.5, 20),
    startSeconds: start,
    durationSeconds: tenths(random, 1, durationSeconds - start),
    extensions: mode === "svcrack" ? `${FIRST_ACCOUNT}-${FIRST_ACCOUNT}` : `${FIRST_ACCOUNT}-${FIRST_ACCOUNT + 99}`,
    sourcePort: pick(random, [randomInt(random, 20_000, 60_000), "random"] as const),
    requestsPerWrite: pick(random, [1, 1, 2]),
    giveUpSeconds: pick(random, [10, 0]),
    onAnswerLikeRandom: "walk-on",
  });
  if (!chance(random, 0.6)) return;
  const count = randomInt(random, 1, 3);
  const accounts = allocate.accounts(count);
  if (!accounts) return;
  hosts["tls-office"] = { kind: "addresses", addresses: Array.from({ length: count }, () => allocate.wanAddress()) };
  traffic.push({ name: "tls-phones", kind: "phones", host: "tls-office", transport: "tls", count, accounts, startSeconds: tenths(random, 0, 2), spreadSeconds: tenths(random, 0, 2) });
}

/** Rules for the TLS port, where nothing can be read: connections, writes and their rates. */
function tlsRules(random: Random): string[] {
  const rules: string[] = [];
  const tls = "-p tcp -m tcp --dport 5061";
  if (chance(random, 0.5)) {
    rules.push(`-A INPUT ${tls} -m conntrack --ctstate NEW -m recent --set --name TLSNEW --rsource`);
    rules.push(`-A INPUT ${tls} -m conntrack --ctstate NEW -m recent --update --seconds ${randomInt(random, 5, 60)} --hitcount ${randomInt(random, 2, 6)} --name TLSNEW --rsource -j DROP`);
  }
  if (chance(random, 0.6)) rules.push(`-A INPUT ${tls} --tcp-flags PSH PSH -m hashlimit --hashlimit-above ${randomInt(random, 2, 20)}/sec --hashlimit-burst ${randomInt(random, 3, 15)} --hashlimit-mode srcip --hashlimit-name TLSW -j DROP`);
  if (chance(random, 0.3)) rules.push(`-A INPUT ${tls} -m connlimit --connlimit-above ${randomInt(random, 1, 3)} --connlimit-mask 32 --connlimit-saddr -j DROP`);
  if (chance(random, 0.3)) {
    // A ClientHello is the only big packet a client sends: handshakes counted by length.
    rules.push(`-A INPUT ${tls} -m length --length 1400:65535 -m recent --set --name TLSHELLO --rsource`);
    rules.push(`-A INPUT ${tls} -m length --length 1400:65535 -m recent --update --seconds ${randomInt(random, 5, 60)} --hitcount ${randomInt(random, 2, 5)} --name TLSHELLO --rsource -j DROP`);
  }
  return rules;
}

/** TCP rules admins put before their SIP counters, each drawn or not. */
function tcpRules(random: Random): string[] {
  const rules: string[] = [];
  const sip = "-p tcp -m tcp --dport 5060";
  if (chance(random, 0.5)) rules.push(`-A INPUT ${sip} -m conntrack --ctstate INVALID -j DROP`);
  if (chance(random, 0.5)) {
    const hits = randomInt(random, 2, 6);
    rules.push(`-A INPUT ${sip} --tcp-flags FIN,SYN,RST,ACK SYN -m recent --set --name TCPSYN --mask 255.255.255.255 --rsource`);
    rules.push(`-A INPUT ${sip} --tcp-flags FIN,SYN,RST,ACK SYN -m recent --update --seconds ${randomInt(random, 5, 60)} --hitcount ${hits} --name TCPSYN --mask 255.255.255.255 --rsource -j DROP`);
  }
  if (chance(random, 0.6)) rules.push(`-A INPUT ${sip} --tcp-flags PSH PSH -m hashlimit --hashlimit-above ${randomInt(random, 2, 20)}/sec --hashlimit-burst ${randomInt(random, 3, 15)} --hashlimit-mode srcip --hashlimit-name TCPW -j DROP`);
  if (chance(random, 0.4)) rules.push(`-A INPUT ${sip} -m string --string "REGISTER " --algo ${pick(random, ["bm", "kmp"])} -m hashlimit --hashlimit-above ${randomInt(random, 2, 10)}/sec --hashlimit-burst ${randomInt(random, 2, 10)} --hashlimit-mode srcip --hashlimit-name TCPREG -j DROP`);
  if (chance(random, 0.3)) rules.push(`-A INPUT ${sip} -m connlimit --connlimit-above ${randomInt(random, 1, 3)} --connlimit-mask 32 --connlimit-saddr -j DROP`);
  if (chance(random, 0.2)) rules.push(`-A INPUT -p tcp -m conntrack --ctstate ESTABLISHED -j ACCEPT`);
  return rules;
}

/** IAX2 sources, drawn from a stream of their own: phones (a NAT office unless one is taken) and a guesser or walker. */
function iax2Sources(random: Random, allocate: Allocator, hosts: Record<string, unknown>, traffic: Record<string, unknown>[], officeUsed: boolean): void {
  const durationSeconds = 6;
  const phones = randomInt(random, 1, 3);
  const accounts = allocate.accounts(phones);
  if (accounts !== null && chance(random, 0.8)) {
    const behindNat = !officeUsed && chance(random, 0.5);
    hosts.iaxoffice = behindNat ? { kind: "nat", public: allocate.wanAddress(), lan: "192.0.2.0/24" } : { kind: "addresses", addresses: [allocate.wanAddress()] };
    traffic.push({ name: "iaxphones", kind: "iax2-phones", host: "iaxoffice", count: behindNat ? phones : 1, accounts: behindNat ? accounts : `${accounts.split("-")[0]}-${accounts.split("-")[0]}`, startSeconds: tenths(random, 0, 3), spreadSeconds: tenths(random, 0, 2), wrongPassword: chance(random, 0.15) });
  }
  const distributed = chance(random, 0.3);
  hosts.iaxguess = distributed ? { kind: "range", cidr: allocate.rangeCidr(), count: randomInt(random, 2, 5) } : { kind: "addresses", addresses: [allocate.wanAddress()] };
  const mode = pick(random, ["guess", "guess", "walk"] as const);
  traffic.push({
    name: "iaxguess",
    kind: "iax2-flood",
    host: "iaxguess",
    mode,
    peers: mode === "guess" ? `${FIRST_ACCOUNT}-${FIRST_ACCOUNT}` : `${FIRST_ACCOUNT}-${FIRST_ACCOUNT + 19}`,
    ratePps: tenths(random, 1, 15),
    startSeconds: tenths(random, 0, 3),
    durationSeconds: tenths(random, 1, durationSeconds),
    reuseCallToken: chance(random, 0.3),
    giveUpSeconds: pick(random, [10, 0]),
  });
}

interface AdminExtras {
  /** Rules at the top of INPUT, after the loopback accept. */
  readonly first: string[];
  /** Matches added to the counting rules' selector (they hold for every packet to the PBX). */
  readonly selector: string;
  /** The counter's target: its drop, or a SET rule that fills a block list checked in `first`. */
  readonly blockWith: ((drop: string) => string) | null;
  readonly ipset: string;
}

/** What admins put around their counters, drawn from a stream of its own so the rest of the seed stays as drawn. */
function adminExtras(random: Random, addresses: readonly string[]): AdminExtras {
  const first: string[] = [];
  const sets = ["create banned hash:ip family inet hashsize 1024 maxelem 65536", "create blocklist hash:net family inet hashsize 1024 maxelem 65536"];
  const single = addresses.filter((address) => !address.includes("/"));
  const ranges = addresses.filter((address) => address.includes("/"));
  // File entries are permanent: a file's timeouts would start when the lab restores it, before time 0.
  if (single.length > 0 && chance(random, 0.5)) sets.push(`add banned ${pick(random, single)}`);
  if (ranges.length > 0 && chance(random, 0.5)) sets.push(`add blocklist ${pick(random, ranges).replace(/\.0\/24$/, ".0/26")}`);
  first.push(`-A INPUT -p udp -m set --match-set banned src -j DROP`, `-A INPUT -p udp -m set --match-set blocklist src ${pick(random, ["-j DROP", "-j REJECT --reject-with icmp-port-unreachable"])}`);
  if (single.length > 0 && chance(random, 0.4)) {
    const [a, b, c, d] = pick(random, single).split(".").map(Number) as [number, number, number, number];
    first.push(`-A INPUT -p udp -m iprange ${chance(random, 0.2) ? "! " : ""}--src-range ${a}.${b}.${c}.${Math.max(0, d - 2)}-${a}.${b}.${c}.${Math.min(255, d + randomInt(random, 0, 3))} -j DROP`);
  }
  if (chance(random, 0.4)) first.push(`-A INPUT -p udp -m length --length ${randomInt(random, 500, 900)}:65535 -j DROP`);
  const selector = chance(random, 0.5) ? "-m addrtype --dst-type LOCAL -m pkttype --pkt-type unicast " : "";
  let blockWith: AdminExtras["blockWith"] = null;
  if (chance(random, 0.6)) {
    const timeout = randomInt(random, 2, 6);
    sets.push(`create slammers hash:ip family inet hashsize 1024 maxelem 65536 timeout ${timeout * 2}`);
    first.push("-A INPUT -p udp -m set --match-set slammers src -j DROP");
    blockWith = () => `-j SET --add-set slammers src${chance(random, 0.7) ? " --exist" : ""} --timeout ${timeout}`;
  }
  return { first, selector, blockWith, ipset: `${sets.join("\n")}\n` };
}

interface TableExtras {
  /** raw, mangle and nat tables, in iptables-save form. */
  readonly tablesText: string;
  /** Filter rules at the top of INPUT. */
  readonly filterFirst: string[];
  /** Matches added to the counting rules' selector. */
  readonly selector: string;
}

/** The other tables, drawn from a stream of their own so the rest of the seed stays as drawn. */
function tableExtras(random: Random, addresses: readonly string[]): TableExtras {
  const single = addresses.filter((address) => !address.includes("/"));
  const raw: string[] = [];
  const mangle: string[] = [];
  const nat: string[] = [];
  const filterFirst: string[] = [];
  let selector = "";
  if (single.length > 0 && chance(random, 0.4)) raw.push(`-A PREROUTING -s ${pick(random, single)}/32 -j DROP`);
  if (single.length > 0 && chance(random, 0.35)) {
    raw.push(`-A PREROUTING -s ${pick(random, single)}/32 -p udp -m udp --dport 5060 -j CT --notrack`);
    filterFirst.push(`-A INPUT -p udp -m conntrack --ctstate UNTRACKED ${pick(random, ["-j ACCEPT", "-j DROP"])}`);
  }
  if (chance(random, 0.4)) mangle.push("-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff");
  if (chance(random, 0.6)) {
    const mark = randomInt(random, 1, 255);
    mangle.push(`-A PREROUTING -p udp -m udp --dport 5060 -m string --string "REGISTER" --algo bm --to 65535 -j MARK --set-xmark 0x${mark.toString(16)}/0xff`);
    selector = `-m mark --mark 0x${mark.toString(16)}/0xff `;
  }
  if (mangle.length > 0 && chance(random, 0.5)) mangle.push("-A PREROUTING -m mark ! --mark 0x0 -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff");
  if (chance(random, 0.4)) mangle.push(`-A OUTPUT -p udp -m udp --sport 5060 -j DSCP --set-dscp ${pick(random, ["0x18", "0x1a", "0x2e"])}`);
  if (chance(random, 0.35)) {
    nat.push("-A PREROUTING -p udp -m udp --dport 5062 -j REDIRECT --to-ports 5060");
    if (chance(random, 0.5)) nat.push("-A POSTROUTING -o eth+ -j MASQUERADE");
  }
  // Office hours that always hold (every weekday, the whole day): -m time judged by both engines' clocks.
  if (single.length > 0 && chance(random, 0.3)) {
    filterFirst.push(`-A INPUT -s ${pick(random, single)}/32 -p udp -m time --timestart 00:00:00 --timestop 23:59:59 --weekdays Mon,Tue,Wed,Thu,Fri,Sat,Sun --datestop 2037-12-31T23:59:59 -j DROP`);
  }
  const table = (name: string, chains: readonly string[], rules: readonly string[]) =>
    rules.length === 0 ? [] : [`*${name}`, ...chains.map((chain) => `:${chain} ACCEPT [0:0]`), ...rules, "COMMIT"];
  const tablesText = [
    ...table("raw", ["PREROUTING", "OUTPUT"], raw),
    ...table("mangle", ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"], mangle),
    ...table("nat", ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"], nat),
  ].join("\n");
  return { tablesText: tablesText ? `${tablesText}\n` : "", filterFirst, selector };
}

/** A connlimit rule as iptables-save prints one, drawn from a stream of its own. */
function connlimitRule(random: Random): string {
  const limit = randomInt(random, 1, 4);
  const mask = pick(random, [32, 32, 24]);
  const target = chance(random, 0.7) ? "-j DROP" : "-j REJECT --reject-with icmp-port-unreachable";
  const counted = chance(random, 0.5) ? "-p udp -m udp --dport 5060" : "-p udp";
  return `-A INPUT ${counted} -m connlimit --connlimit-above ${limit} --connlimit-mask ${mask} --connlimit-saddr ${target}`;
}

export function randomScenarioYaml(scenario: RandomScenario): string {
  return stringify(scenario.document, { lineWidth: 0 });
}

function randomPolicy(random: Random, addresses: readonly string[]): Record<string, unknown> {
  const matcher = chance(random, 0.65)
    ? { kind: "recent", hits: randomInt(random, 2, 15), seconds: randomInt(random, 1, 8) }
    : { kind: "hashlimit", rate: randomInt(random, 1, 30), per: pick(random, ["second", "minute"]), burst: randomInt(random, 1, 10), expireSeconds: randomInt(random, 2, 15) };
  const blockSeconds = randomInt(random, 1, 8);
  const strikes = randomInt(random, 2, 3);
  const methods = ["REGISTER", ...["SUBSCRIBE", "INVITE", "OPTIONS"].filter(() => chance(random, 0.25))];
  return {
    placement: chance(random, 0.15) ? "router" : "host",
    matcher,
    methods,
    methodMatch: pick(random, ["string", "u32"]),
    stringAlgo: pick(random, ["kmp", "bm"]),
    blockSeconds,
    allowSites: chance(random, 0.2) ? [pick(random, addresses)] : [],
    // Within the validator's bounds: the window holds `strikes` blocks, the long block outlasts the short one.
    escalation: chance(random, 0.25)
      ? { enabled: true, strikes, withinSeconds: strikes * blockSeconds + randomInt(random, 1, 10), blockSeconds: blockSeconds + randomInt(random, 0, 12) }
      : { enabled: false },
  };
}

/** Hex of the first four bytes of a method, as u32 compares the UDP payload's first word. */
const firstWord = (method: string) => `0x${Buffer.from(method.slice(0, 4)).toString("hex")}`;

function methodMatch(random: Random, method: string): string {
  const kind = pick(random, ["string", "string-icase", "string-offset", "u32"] as const);
  const algo = pick(random, ["bm", "kmp"]);
  if (kind === "u32") return `-m u32 --u32 "0>>22&0x3C@8=${firstWord(method)}"`;
  if (kind === "string-icase") return `-m string --string "${method.toLowerCase()}" --algo ${algo} --icase`;
  if (kind === "string-offset") return `-m string --string "${method} sip:" --algo ${algo} --from 28 --to ${pick(random, [40, 64, 1500])}`;
  return `-m string --string "${method}" --algo ${algo} --to 65535`;
}

/** A hand-written ruleset: the shapes people write on the lists, recombined. */
function randomRuleset(random: Random, addresses: readonly string[], extras?: AdminExtras): string {
  const chains: string[] = [];
  const rules: string[] = [];
  const policyDrop = chance(random, 0.2);
  rules.push("-A INPUT -i lo -j ACCEPT");
  if (extras) rules.push(...extras.first);
  if (chance(random, 0.3)) rules.push(pick(random, ["-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", "-A INPUT -m state --state ESTABLISHED -j ACCEPT"]));
  if (chance(random, 0.25)) rules.push(`-A INPUT -s ${pick(random, addresses)} -j ACCEPT`);
  if (chance(random, 0.1)) rules.push(`-A INPUT ! -s 198.18.0.0/15 -p udp --dport 5060 -j DROP`);
  const ports = chance(random, 0.3) ? "-m multiport --dports 5060,5061" : "--dport 5060";
  const method = chance(random, 0.8) ? "REGISTER" : pick(random, ["SUBSCRIBE", "REGISTER"]);
  const selector = `-p udp ${ports} ${extras?.selector ?? ""}${methodMatch(random, method)}`;
  const plainDrop = chance(random, 0.2) ? `-j REJECT --reject-with ${pick(random, ["icmp-port-unreachable", "icmp-admin-prohibited"])}` : "-j DROP";
  const drop = extras?.blockWith ? extras.blockWith(plainDrop) : plainDrop;
  const useChain = chance(random, 0.3);
  const into = useChain ? "SIPCHK" : "INPUT";
  if (useChain) {
    chains.push(":SIPCHK - [0:0]");
    rules.push(`-A INPUT -p udp ${ports} -j SIPCHK`);
  }
  const counter = pick(random, ["recent", "recent", "hashlimit", "limit"] as const);
  const at = useChain ? selector.replace(/^-p udp (--dport 5060|-m multiport --dports 5060,5061) /, "") : selector;
  if (counter === "recent") {
    const list = pick(random, ["SIP", "slam", "REG-1"]);
    const mask = chance(random, 0.15) ? " --mask 255.255.255.0" : "";
    const seconds = randomInt(random, 1, 8);
    const hits = randomInt(random, 2, 15);
    const check = pick(random, ["--update", "--rcheck"]);
    const extras = [chance(random, 0.15) ? " --rttl" : "", chance(random, 0.15) ? " --reap" : ""].join("");
    if (chance(random, 0.5)) {
      rules.push(`-A ${into} ${at} -m recent --set --name ${list}${mask} --rsource`);
      rules.push(`-A ${into} ${at} -m recent ${check} --seconds ${seconds} --hitcount ${hits}${extras} --name ${list}${mask} --rsource ${drop}`);
    } else {
      // The reference post's order: check first, so a blocked source is not counted again.
      rules.push(`-A ${into} ${at} -m recent ${check} --seconds ${seconds} --hitcount ${hits}${extras} --name ${list}${mask} --rsource ${drop}`);
      rules.push(`-A ${into} ${at} -m recent --set --name ${list}${mask} --rsource`);
    }
  } else if (counter === "hashlimit") {
    const mode = pick(random, ["srcip", "srcip,srcport", "srcip,dstport"]);
    const expire = chance(random, 0.5) ? ` --hashlimit-htable-expire ${randomInt(random, 2, 15) * 1000}` : "";
    const srcmask = chance(random, 0.15) ? " --hashlimit-srcmask 24" : "";
    const rate = `${randomInt(random, 1, 20)}/${pick(random, ["sec", "min"])}`;
    rules.push(`-A ${into} ${at} -m hashlimit --hashlimit-above ${rate} --hashlimit-burst ${randomInt(random, 1, 10)} --hashlimit-mode ${mode}${srcmask}${expire} --hashlimit-name h${randomInt(random, 1, 9)} ${drop}`);
  } else {
    rules.push(`-A ${into} ${at} -m limit --limit ${randomInt(random, 1, 20)}/${pick(random, ["sec", "min"])} --limit-burst ${randomInt(random, 1, 10)} -j ACCEPT`);
    rules.push(`-A ${into} ${at} ${drop}`);
  }
  if (useChain) rules.push("-A SIPCHK -j RETURN");
  if (policyDrop) rules.push("-A INPUT -p udp -j ACCEPT");
  return ["# seeded random hand-written ruleset (differential suite)", "*filter", `:INPUT ${policyDrop ? "DROP" : "ACCEPT"} [0:0]`, ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ...chains, ...rules, "COMMIT", ""].join("\n");
}

/** Writes the scenario (and its ruleset) into `directory`; returns the YAML's path. */
export function writeRandomScenario(scenario: RandomScenario, directory: string): string {
  mkdirSync(directory, { recursive: true });
  const rulesetFile = join(directory, `${scenario.name}.rules`);
  if (scenario.rulesetText !== null) writeFileSync(rulesetFile, scenario.rulesetText);
  else rmSync(rulesetFile, { force: true });
  const ipv6File = join(directory, `${scenario.name}.v6`);
  if (scenario.ipv6RulesetText !== undefined) writeFileSync(ipv6File, scenario.ipv6RulesetText);
  else rmSync(ipv6File, { force: true });
  const ipsetFile = join(directory, `${scenario.name}.ipset`);
  if (scenario.ipsetText !== null) writeFileSync(ipsetFile, scenario.ipsetText);
  else rmSync(ipsetFile, { force: true });
  const file = join(directory, `${scenario.name}.yaml`);
  writeFileSync(file, randomScenarioYaml(scenario));
  return file;
}
