import { isIpv4, parseIpv4, prefixMask } from "../net/address.js";
import { ipv6Number, maskedIpv6Number } from "../net/address-number.js";
import { parseIpv6 } from "../net/ipv6-address.js";
import { RulesetError } from "./ruleset.js";

/** The ipset types the model holds: what fail2ban's ipset actions and blocklist clients create. */
export type IpSetType = "hash:ip" | "hash:net" | "hash:ip,port" | "hash:net,port" | "bitmap:ip" | "bitmap:port" | "list:set";
export const IPSET_TYPES: readonly IpSetType[] = ["hash:ip", "hash:net", "hash:ip,port", "hash:net,port", "bitmap:ip", "bitmap:port", "list:set"];

/** One element as `ipset save` prints it, parsed. */
export type IpSetElement =
  | { readonly kind: "ip"; readonly address: number }
  | { readonly kind: "net"; readonly address: number; readonly prefix: number }
  | { readonly kind: "ip,port"; readonly address: number; readonly protocol: number; readonly port: number }
  | { readonly kind: "net,port"; readonly address: number; readonly prefix: number; readonly protocol: number; readonly port: number }
  | { readonly kind: "port"; readonly port: number }
  | { readonly kind: "set"; readonly name: string };

export interface IpSetSpec {
  readonly name: string;
  readonly type: IpSetType;
  /** inet (IPv4) or inet6: a set holds one family's addresses, and never matches a packet of the other; a list:set is of neither. */
  readonly family: "inet" | "inet6" | "unspec";
  /** hash:ip's `netmask N`: addresses are stored and looked up with their last 32-N bits cleared (a /24 one element). */
  readonly netmask?: number;
  /** The set's default timeout in seconds (create ... timeout N), or null: entries stay. */
  readonly timeoutSeconds: number | null;
  readonly maxelem: number;
  /** bitmap:port's range. */
  readonly portRange?: { readonly from: number; readonly to: number };
  /** bitmap:ip's range of addresses (ipset save prints it FROM-TO). */
  readonly ipRange?: { readonly from: number; readonly to: number };
  readonly entries: ReadonlyArray<{ readonly element: IpSetElement; readonly timeoutSeconds: number | null; readonly line: number }>;
}

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, udplite: 136, icmp: 1 };

/** An IPv6 address's number (address-number.ts), or null when the text is none. */
function ipv6NumberOf(text: string): number | null {
  try {
    return ipv6Number(parseIpv6(text));
  } catch {
    return null;
  }
}

/** An element of a set's type and family from its text, or a message saying what it should look like. */
export function parseIpSetElement(type: IpSetType, text: string, family: IpSetSpec["family"] = "inet", netmask?: number): IpSetElement | string {
  if (family === "inet6") {
    if (type === "hash:ip") {
      const address = ipv6NumberOf(text);
      return address === null ? `"${text}" is not an IPv6 address (the set is family inet6)` : { kind: "ip", address };
    }
    const [addressText = "", prefixText = "128"] = text.split("/");
    const address = ipv6NumberOf(addressText);
    const prefix = Number(prefixText);
    if (address === null || !/^\d+$/.test(prefixText) || prefix < 1 || prefix > 128) return `"${text}" is not an IPv6 network (ADDRESS/1-128; the set is family inet6)`;
    return { kind: "net", address: maskedIpv6Number(address, prefix), prefix };
  }
  switch (type) {
    case "hash:ip":
    case "bitmap:ip":
      if (!isIpv4(text)) return `"${text}" is not an IPv4 address`;
      return { kind: "ip", address: netmask === undefined ? parseIpv4(text) : (parseIpv4(text) & prefixMask(netmask)) >>> 0 };
    case "hash:net": {
      const [address, prefixText = "32"] = text.split("/");
      const prefix = Number(prefixText);
      if (!isIpv4(address!) || !/^\d+$/.test(prefixText) || prefix < 1 || prefix > 32) return `"${text}" is not an IPv4 network (A.B.C.D/1-32)`;
      return { kind: "net", address: (parseIpv4(address!) & prefixMask(prefix)) >>> 0, prefix };
    }
    case "hash:ip,port": {
      const match = /^([^,]+),(?:([a-z]+):)?(\d+)$/i.exec(text);
      const protocol = match ? PROTOCOLS[(match[2] ?? "tcp").toLowerCase()] : undefined;
      if (!match || !isIpv4(match[1]!) || protocol === undefined || Number(match[3]) > 65535) return `"${text}" is not IP,PROTO:PORT (e.g. 192.0.2.1,udp:5060)`;
      return { kind: "ip,port", address: parseIpv4(match[1]!), protocol, port: Number(match[3]) };
    }
    case "hash:net,port": {
      const match = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?,(?:([a-z]+):)?(\d+)$/i.exec(text);
      const protocol = match ? PROTOCOLS[(match[3] ?? "tcp").toLowerCase()] : undefined;
      const prefix = Number(match?.[2] ?? 32);
      if (!match || !isIpv4(match[1]!) || protocol === undefined || prefix < 1 || prefix > 32 || Number(match[4]) > 65535) return `"${text}" is not NET/PREFIX,PROTO:PORT (e.g. 192.0.2.0/24,udp:5060)`;
      return { kind: "net,port", address: (parseIpv4(match[1]!) & prefixMask(prefix)) >>> 0, prefix, protocol, port: Number(match[4]) };
    }
    case "list:set":
      return /^\S+$/.test(text) ? { kind: "set", name: text } : `"${text}" is not a set's name`;
    case "bitmap:port":
      return /^\d+$/.test(text) && Number(text) <= 65535 ? { kind: "port", port: Number(text) } : `"${text}" is not a port number`;
  }
}

/** ipset create's options that take a value; the flags take none. */
const VALUE_OPTIONS = new Set(["family", "hashsize", "maxelem", "timeout", "range", "netmask", "bucketsize", "initval", "markmask", "size", "probes", "resize"]);
const FLAG_OPTIONS = new Set(["counters", "comment", "skbinfo", "forceadd"]);

/**
 * Reads `ipset save` output (the form `ipset restore` takes): create lines
 * with the type and its options, add lines with an element and its timeout.
 * Every problem names the line; sets and options the model does not hold are
 * refused by name rather than ignored.
 */
export function parseIpsetSave(text: string, source: string): Map<string, IpSetSpec> {
  const sets = new Map<string, { spec: Omit<IpSetSpec, "entries">; entries: Array<IpSetSpec["entries"][number]> }>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    // Words, a quoted comment one word (`comment "scanner farm"`).
    const words = [...raw.trim().matchAll(/"[^"]*"|\S+/g)].map((match) => match[0]);
    if (words.length === 0 || words[0]!.startsWith("#")) return;
    const fail = (message: string, code = "IPSET_BAD_LINE") => new RulesetError(code, `${source}: line ${line}: ${message}`);
    const [command, name, ...rest] = words;
    if (command === "create" || command === "-N" || command === "-exist") {
      if (!name || rest.length === 0) throw fail("create needs a set name and a type (create NAME hash:ip ...)");
      const type = rest[0]!;
      if (!(IPSET_TYPES as readonly string[]).includes(type)) {
        throw fail(`set ${name} is of type ${type}, which the model does not hold (it holds ${IPSET_TYPES.join(", ")}); run this ruleset with --engine docker`, "IPSET_UNSUPPORTED");
      }
      // Options with a value, and flags (counters, comment, skbinfo) that give each entry more to carry and change no lookup.
      const options = new Map<string, string>();
      for (let i = 1; i < rest.length; i++) {
        const option = rest[i]!;
        if (FLAG_OPTIONS.has(option)) continue;
        options.set(option, rest[i + 1] ?? "");
        i++;
      }
      const family = type === "list:set" ? "unspec" : (options.get("family") ?? "inet");
      if (family !== "inet" && family !== "inet6" && family !== "unspec") throw fail(`set ${name} is family ${family} (inet or inet6)`);
      if (family === "inet6" && type !== "hash:ip" && type !== "hash:net") throw fail(`set ${name}: ${type} of family inet6 is not modelled (hash:ip and hash:net are); run this ruleset with --engine docker`, "IPSET_UNSUPPORTED");
      for (const option of ["forceadd"]) {
        // forceadd evicts a random element when the set is full: the kernel's choice, which the model cannot make alike.
        if (rest.includes(option)) throw fail(`set ${name}: "${option}" is not modelled; run this ruleset with --engine docker`, "IPSET_UNSUPPORTED");
      }
      for (const option of options.keys()) {
        if (!VALUE_OPTIONS.has(option)) throw fail(`set ${name}: "${option}" is not an option of ipset create (${[...VALUE_OPTIONS, ...FLAG_OPTIONS].join(", ")})`);
      }
      const integer = (key: string, fallback: number | null, max: number) => {
        const value = options.get(key);
        if (value === undefined) return fallback;
        if (!/^\d+$/.test(value) || Number(value) > max) throw fail(`set ${name}: ${key} ${value} is not a whole number up to ${max}`);
        return Number(value);
      };
      let portRange: IpSetSpec["portRange"];
      if (type === "bitmap:port") {
        const range = /^(\d+)-(\d+)$/.exec(options.get("range") ?? "");
        if (!range || Number(range[1]) > Number(range[2]) || Number(range[2]) > 65535) throw fail(`set ${name}: bitmap:port needs "range FROM-TO" within 0-65535`);
        portRange = { from: Number(range[1]), to: Number(range[2]) };
      }
      let ipRange: IpSetSpec["ipRange"];
      if (type === "bitmap:ip") {
        // range FROM-TO or NET/PREFIX, IPv4 only (ipset: "bitmap:ip" has no inet6 family).
        const text = options.get("range") ?? "";
        const [fromText = "", toText] = text.includes("-") ? text.split("-") : [text.split("/")[0]];
        const prefix = text.includes("/") ? Number(text.split("/")[1]) : null;
        if (family !== "inet" || !isIpv4(fromText) || (toText !== undefined && !isIpv4(toText)) || (prefix !== null && !(prefix >= 1 && prefix <= 32))) throw fail(`set ${name}: bitmap:ip needs "range FROM-TO" or "range NET/PREFIX" of IPv4 addresses`);
        const from = prefix === null ? parseIpv4(fromText) : (parseIpv4(fromText) & prefixMask(prefix)) >>> 0;
        const to = toText !== undefined ? parseIpv4(toText) : prefix === null ? from : (from | ~prefixMask(prefix)) >>> 0;
        // ipset caps a bitmap at 65536 elements ("Range too large").
        if (from > to || to - from >= 65536) throw fail(`set ${name}: bitmap:ip's range must run upwards and hold at most 65536 addresses`);
        ipRange = { from, to };
      }
      const netmask = options.has("netmask") ? integer("netmask", null, family === "inet6" ? 128 : 32)! : undefined;
      if (netmask !== undefined && ((type !== "hash:ip" && type !== "bitmap:ip") || family !== "inet" || netmask < 1)) throw fail(`set ${name}: netmask is modelled for hash:ip and bitmap:ip of family inet, 1-32`, "IPSET_UNSUPPORTED");
      if (sets.has(name)) throw fail(`set ${name} is created twice`);
      sets.set(name, {
        spec: { name, type: type as IpSetType, family, ...(netmask !== undefined ? { netmask } : {}), timeoutSeconds: integer("timeout", null, 2_147_483), maxelem: integer("maxelem", 65536, 0xffffffff)!, ...(portRange ? { portRange } : {}), ...(ipRange ? { ipRange } : {}) },
        entries: [],
      });
      return;
    }
    if (command === "add" || command === "-A") {
      const set = name === undefined ? undefined : sets.get(name);
      if (!set) throw fail(`add to set ${name ?? "(none)"}, which no create line before it makes`);
      const value = rest[0];
      if (value === undefined) throw fail(`add ${name} needs an element`);
      const element = parseIpSetElement(set.spec.type, value, set.spec.family, set.spec.netmask);
      if (typeof element === "string") throw fail(`set ${name} (${set.spec.type}): ${element}`);
      if (element.kind === "port" && (element.port < set.spec.portRange!.from || element.port > set.spec.portRange!.to)) throw fail(`set ${name}: port ${element.port} is outside its range`);
      const ipRange = set.spec.ipRange;
      // ipset: "Element is out of the range of the set" (the address before its netmask is applied).
      if (ipRange && !(parseIpv4(value) >= ipRange.from && parseIpv4(value) <= ipRange.to)) throw fail(`set ${name}: ${value} is outside its range (Element is out of the range of the set)`);
      if (element.kind === "set") {
        // ipset: "Set to be added/deleted/tested as element does not exist"; a list of lists is refused too.
        const member = sets.get(element.name);
        if (!member) throw fail(`set ${name} (list:set): ${element.name} is no set created before this line`);
        if (member.spec.type === "list:set") throw fail(`set ${name} (list:set): ${element.name} is a list:set itself, which ipset refuses as a member`);
        if (rest.includes("before") || rest.includes("after")) throw fail(`set ${name} (list:set): before/after are not modelled (members are listed in the order added); run this ruleset with --engine docker`, "IPSET_UNSUPPORTED");
      }
      const timeoutAt = rest.indexOf("timeout");
      if (rest.includes("nomatch")) throw fail(`set ${name}: nomatch entries are not modelled; run this ruleset with --engine docker`, "IPSET_UNSUPPORTED");
      if (timeoutAt >= 0 && set.spec.timeoutSeconds === null) throw fail(`set ${name} was created without a timeout, so its entries cannot have one`);
      const timeoutText = timeoutAt >= 0 ? rest[timeoutAt + 1] : undefined;
      if (timeoutText !== undefined && !/^\d+$/.test(timeoutText)) throw fail(`set ${name}: timeout ${timeoutText} is not a whole number of seconds`);
      set.entries.push({ element, timeoutSeconds: timeoutText !== undefined ? Number(timeoutText) : set.spec.timeoutSeconds, line });
      return;
    }
    throw fail(`"${command}": expected create or add lines, as ipset save writes them`);
  });
  return new Map([...sets].map(([name, { spec, entries }]) => [name, { ...spec, entries }]));
}
