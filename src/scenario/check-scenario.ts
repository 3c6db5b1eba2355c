import { parseAddress } from "../net/address-number.js";
import { publicAddressCount, publicAddressesOf, rangeShortfall } from "../traffic/host-addresses.js";
import { cidrSize } from "./cidr-size.js";
import { ScenarioError } from "./scenario.js";
import type { ScenarioDocument, UserList } from "./schema.js";
import { userListProblem, userSequence } from "./user-list.js";
import { passwordFor } from "../traffic/passwords.js";
import { isSippOffice } from "./sipp-office-tool.js";

/** Whether a host sends from IPv6 addresses. */
export function hasIpv6(host: ScenarioDocument["hosts"][string]): boolean {
  return host.kind === "addresses" ? host.addresses.some((address) => address.includes(":")) : host.kind === "range" && host.cidr.includes(":");
}

/** Whether a source sends over IPv6: from an IPv6 host, or as a dual-stack office's IPv6 phones. */
export function sendsIpv6(source: ScenarioDocument["traffic"][number], host: ScenarioDocument["hosts"][string] | undefined): boolean {
  if (!host) return false;
  return hasIpv6(host) || (host.kind === "nat" && source.kind === "phones" && source.ipv6);
}

/** Whether any source of a scenario sends over IPv6. */
export function scenarioSendsIpv6(scenario: { readonly hosts: ScenarioDocument["hosts"]; readonly traffic: readonly ScenarioDocument["traffic"][number][] }): boolean {
  return scenario.traffic.some((source) => sendsIpv6(source, scenario.hosts[source.host]));
}

/** Which host kinds each traffic kind can run on. */
const HOST_KINDS: Record<string, readonly string[]> = {
  phones: ["nat", "addresses", "range"],
  "sipp-office": ["nat", "addresses", "range"],
  "register-flood": ["addresses", "range"],
  "iax2-phones": ["nat", "addresses", "range"],
  "iax2-flood": ["addresses", "range"],
  "broken-phone": ["nat", "addresses", "range"],
  "roaming-user": ["addresses"],
  "blf-subscribe": ["nat", "addresses", "range"],
  replay: ["addresses", "range"],
  tool: ["addresses"],
};

/**
 * The checks the schema cannot make because they span fields: names that
 * refer to other parts, address plans that fit, accounts that exist.
 */
export function checkScenarioDocument(document: ScenarioDocument, file: string, lineOf: (path: PropertyKey[]) => number | null): void {
  const problems: string[] = [];
  const at = (path: PropertyKey[], message: string) => {
    const line = lineOf(path);
    problems.push(`${file}${line ? `:${line}` : ""}: ${path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("").replace(/^\./, "")}: ${message}`);
  };
  const users = (list: UserList, path: PropertyKey[]) => {
    const problem = userListProblem(list);
    if (problem) at(path, problem);
  };

  document.pbx.accounts.forEach((account, index) => users(account.users, ["pbx", "accounts", index, "users"]));
  const knownAccount = (user: string) => document.pbx.accounts.some((account) => userSequence(account.users).includes(user));
  /** The first `count` accounts of a list that pbx.accounts does not hold, said as one problem. */
  const unknownAccounts = (list: UserList, count: number, path: PropertyKey[], why = "") => {
    const accounts = userSequence(list);
    const unknown = Array.from({ length: Math.min(count, accounts.size) }, (_, i) => accounts.at(i)).filter((user) => !knownAccount(user));
    if (unknown.length) at(path, `account ${unknown.slice(0, 3).join(", ")}${unknown.length > 3 ? ", ..." : ""} is not among pbx.accounts${why}`);
  };
  // PJSIP binds its TCP and TLS transports to their own ports: one port cannot be both.
  if (document.pbx.tlsPort === document.pbx.port) at(["pbx", "tlsPort"], `${document.pbx.tlsPort} is the PBX's SIP port too, where it listens for SIP over UDP and TCP; give TLS its own port (PJSIP's transport-tls usually has 5061)`);
  const pbxAddresses = new Set([document.pbx.address, document.pbx.address6].filter((address) => address !== undefined).map(parseAddress));

  const lanUse = new Map<string, number>();
  const ipv6Hosts = new Set<string>();
  for (const [name, host] of Object.entries(document.hosts)) {
    if (host.kind === "range" && rangeShortfall(host) > 0) at(["hosts", name, "count"], `${host.cidr} holds fewer than ${host.count} host addresses`);
    if (host.kind !== "nat" && host.kind !== "range") {
      const taken = publicAddressesOf(host).find((address) => pbxAddresses.has(parseAddress(address)));
      if (taken) at(["hosts", name], `uses the PBX's address ${taken}`);
    }
    if (host.kind === "nat") lanUse.set(name, 0);
    if (hasIpv6(host)) {
      ipv6Hosts.add(name);
      if (document.pbx.address6 === undefined) at(["hosts", name], "has IPv6 addresses, but the PBX has none: give pbx.address6 (such as 2001:db8:100::10)");
    }
    if (host.kind === "nat" && host.lan6 !== undefined) {
      const dualStack = document.traffic.some((source) => source.host === name && sendsIpv6(source, host));
      if (dualStack) ipv6Hosts.add(name);
      if (dualStack && document.pbx.address6 === undefined) at(["hosts", name, "lan6"], "the office's phones register over IPv6, but the PBX has no IPv6 address: give pbx.address6 (such as 2001:db8:100::10)");
    }
  }
  if (ipv6Hosts.size && document.firewall.fail2ban) at(["firewall", "fail2ban"], `fail2ban beside IPv6 sources (hosts ${[...ipv6Hosts].join(", ")}) is not run by slamlab yet; leave fail2ban out or the IPv6 hosts`);

  const sourceNames = new Set<string>();
  document.traffic.forEach((source, index) => {
    const path = ["traffic", index];
    if (sourceNames.has(source.name)) at([...path, "name"], `traffic name "${source.name}" is used twice`);
    sourceNames.add(source.name);
    const host = document.hosts[source.host];
    if (!host) {
      at([...path, "host"], `no host "${source.host}"; hosts are ${Object.keys(document.hosts).join(", ") || "(none)"}`);
      return;
    }
    if (!HOST_KINDS[source.kind]!.includes(host.kind)) {
      at([...path, "host"], `${source.kind} cannot run on a host of kind ${host.kind}; use one of kind ${HOST_KINDS[source.kind]!.join(", ")}`);
    }
    if (source.kind === "phones" && source.ipv6 && (host.kind !== "nat" || host.lan6 === undefined)) {
      at([...path, "ipv6"], `ipv6 picks a dual-stack office's IPv6 addresses: give host ${source.host} kind nat with a lan6 prefix, or give an addresses or range host IPv6 addresses`);
    }
    if (ipv6Hosts.has(source.host) && sendsIpv6(source, host) && source.kind !== "replay" && !((source.kind === "phones" || source.kind === "register-flood") && source.transport === "udp")) {
      at([...path, "host"], `host ${source.host} sends over IPv6, which slamlab runs for phones and register-flood over UDP and replays so far; give this ${source.kind}${"transport" in source && source.transport !== "udp" ? ` over ${source.transport}` : ""} an IPv4 host`);
    }
    if (host.kind === "nat") lanUse.set(source.host, (lanUse.get(source.host) ?? 0) + (source.kind === "phones" || source.kind === "iax2-phones" ? source.count : 1));
    switch (source.kind) {
      case "phones":
      case "iax2-phones": {
        users(source.accounts, [...path, "accounts"]);
        const accounts = userSequence(source.accounts);
        if (accounts.size < source.count) at([...path, "accounts"], `${source.count} phones need ${source.count} accounts; the list has ${accounts.size}`);
        if (!source.wrongPassword) unknownAccounts(source.accounts, source.count, [...path, "accounts"]);
        break;
      }
      case "iax2-flood":
        users(source.peers, [...path, "peers"]);
        break;
      case "sipp-office": {
        users(source.accounts, [...path, "accounts"]);
        unknownAccounts(source.accounts, source.count ?? Number.POSITIVE_INFINITY, [...path, "accounts"]);
        break;
      }
      case "tool": {
        const office = isSippOffice(source);
        for (const field of ["ratePps", "count", "limit", "transport"] as const) {
          if (source[field] !== undefined && !office) at([...path, field], `${field} sets a SIPp office: give tool sipp-register a range of accounts as its target ("200-299")`);
        }
        if (source.tool === "svcrack") {
          // svcrack -u takes one user name: a range would be sent as the name itself.
          if (source.target.includes("-")) at([...path, "target"], `svcrack guesses the password of one extension: give target one extension ("${source.target.split("-")[0]}"), and a source per extension to crack several`);
          const [first, last] = source.passwords.split("-").map(Number) as [number, number];
          if (first > last) at([...path, "passwords"], `svcrack's range ${source.passwords} runs backwards: give its first number first ("${last}-${first}")`);
        } else if (source.target.includes("-")) users(source.target, [...path, "target"]);
        if (office && !source.password) {
          unknownAccounts(source.target, Number.POSITIVE_INFINITY, [...path, "target"], " (its password is read from there)");
          // SIPp's injection file splits fields on ";" and lines on line breaks.
          const accounts = userSequence(source.target);
          const uncarried = Array.from({ length: accounts.size }, (_, i) => accounts.at(i)).find((user) => /[;\r\n]/.test(passwordFor(document.pbx, user) ?? ""));
          if (uncarried) at([...path, "target"], `the password of account ${uncarried} holds a ";" or a line break, which SIPp's injection file cannot carry; give the office's accounts another password in pbx.accounts`);
        }
        break;
      }
      case "register-flood":
        users(source.extensions, [...path, "extensions"]);
        if (source.transport === "udp" && source.requestsPerWrite !== 1) at([...path, "requestsPerWrite"], "requestsPerWrite shapes TCP segments: give transport: tcp or tls, or leave requestsPerWrite out");
        if (source.transport === "udp" && source.splitMethod) at([...path, "splitMethod"], "splitMethod shapes TCP segments: give transport: tcp, or leave splitMethod out");
        // Each piece would be a record of its own, but encrypted: no firewall sees the method, whole or cut.
        if (source.transport === "tls" && source.splitMethod) at([...path, "splitMethod"], "over TLS the method is encrypted, so cutting it hides nothing: give transport: tcp, or leave splitMethod out");
        if (source.addressCount > publicAddressCount(host)) {
          at([...path, "addressCount"], `host ${source.host} has ${publicAddressCount(host)} addresses, fewer than ${source.addressCount}`);
        }
        break;
      case "roaming-user":
      case "blf-subscribe":
        if (!knownAccount(source.account)) at([...path, "account"], `account "${source.account}" is not among pbx.accounts`);
        if (source.kind === "blf-subscribe") users(source.watch, [...path, "watch"]);
        break;
      default:
        break;
    }
  });

  for (const [name, used] of lanUse) {
    const host = document.hosts[name];
    if (host?.kind === "nat" && used + 10 > cidrSize(host.lan)) at(["hosts", name, "lan"], `${host.lan} is too small for ${used} phones (addresses from .10 up are used)`);
  }

  const checkExpectations = (expectations: ScenarioDocument["expect"], path: PropertyKey[]) =>
    expectations.forEach((expectation, index) => {
      if (!sourceNames.has(expectation.source)) {
        at([...path, index, "source"], `no traffic source "${expectation.source}"; sources are ${[...sourceNames].join(", ")}`);
      }
    });
  checkExpectations(document.expect, ["expect"]);

  const variantNames = new Set<string>();
  document.variants.forEach((variant, index) => {
    if (variantNames.has(variant.name)) at(["variants", index, "name"], `variant name "${variant.name}" is used twice`);
    variantNames.add(variant.name);
    if (variant.policy && variant.ruleset) at(["variants", index], "give a variant either policy or ruleset, not both");
    if (variant.expect) checkExpectations(variant.expect, ["variants", index, "expect"]);
  });
  if (document.expect.length === 0 && document.variants.every((variant) => !variant.expect?.length)) {
    at(["expect"], "a scenario needs at least one expectation, or it can never fail");
  }

  if (problems.length) throw new ScenarioError("SCENARIO_INVALID", `invalid scenario:\n  ${problems.join("\n  ")}`);
}
