import { RulesetError } from "../ruleset.js";
import { NAMED_PRIORITIES, type NftBaseChain, type NftChain, type NftCtHelper, type NftFamily, type NftRuleset, splitElements, type NftSet, type NftTable, type NftToken } from "./nft-ruleset.js";

/**
 * Reads nftables rulesets in the block form `nft list ruleset` prints and
 * people write for `nft -f`: `table FAMILY NAME { chain ... { ... } set ...
 * { ... } }`, `define NAME = VALUE` with `$NAME`, `flush ruleset`, comments
 * and line continuations. Statements end at a newline or `;`, except inside
 * braces `{ }` of a rule (anonymous sets, set statements), which may span
 * lines. The command form (`add rule inet filter input ...`) is refused with
 * what to do instead.
 */

const FAMILIES: readonly NftFamily[] = ["ip", "ip6", "inet", "arp", "bridge", "netdev"];
const HOOKS = ["prerouting", "input", "forward", "output", "postrouting", "ingress", "egress"] as const;

/** Whether a text is an nftables ruleset rather than iptables-save: its first statement opens a table, defines, or flushes. */
export function looksLikeNft(text: string): boolean {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    return /^(table|define|flush|add|include|destroy|delete)\b/.test(line) || line.startsWith("#!/usr/sbin/nft");
  }
  return false;
}

type Token = NftToken & { readonly kind: "word" | "string" | "open" | "close" | "end" };

function tokenize(text: string, fail: (line: number, message: string) => never): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let index = 0;
  const push = (kind: Token["kind"], value: string, quoted = false) => tokens.push({ kind, text: value, quoted, line });
  while (index < text.length) {
    const char = text[index]!;
    if (char === "\\" && (text[index + 1] === "\n" || (text[index + 1] === "\r" && text[index + 2] === "\n"))) {
      index += text[index + 1] === "\n" ? 2 : 3;
      line++;
      continue;
    }
    if (char === "\n") {
      push("end", "\n");
      line++;
      index++;
      continue;
    }
    if (char === " " || char === "\t" || char === "\r") {
      index++;
      continue;
    }
    if (char === "#") {
      while (index < text.length && text[index] !== "\n") index++;
      continue;
    }
    if (char === ";") {
      push("end", ";");
      index++;
      continue;
    }
    if (char === "{" || char === "}") {
      push(char === "{" ? "open" : "close", char);
      index++;
      continue;
    }
    if (char === "\"") {
      const close = text.indexOf("\"", index + 1);
      const newline = text.indexOf("\n", index + 1);
      if (close < 0 || (newline >= 0 && newline < close)) fail(line, "a string is not closed on its line (a missing \")");
      push("string", text.slice(index + 1, close), true);
      index = close + 1;
      continue;
    }
    let end = index;
    while (end < text.length && !/[\s;{}"#]/.test(text[end]!)) end++;
    let word = text.slice(index, end);
    index = end;
    // A comma ends a list item ("5060, 5061"); inside a word it joins one ("established,related", "@th,64,72").
    if (word.length > 1 && word.endsWith(",")) {
      push("word", word.slice(0, -1));
      word = ",";
    }
    push("word", word);
  }
  push("end", "\n");
  return tokens;
}

/** Durations as nft writes them: 1d2h3m4s5ms, or a bare number of seconds. */
export function parseNftDuration(text: string): number | null {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const match = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/.exec(text);
  if (!match || text === "") return null;
  const [, d, h, m, s, ms] = match.map((part) => Number(part ?? 0)) as number[];
  return (((d! * 24 + h!) * 60 + m!) * 60 + s!) * 1000 + ms!;
}

/**
 * Parses an nftables ruleset. With `problems`, every error is collected and
 * parsing goes on where it can; without, the first one is thrown.
 */
export function parseNftRuleset(text: string, source = "ruleset", problems?: RulesetError[]): NftRuleset {
  const report = (line: number, message: string, code = "NFT_SYNTAX") => {
    const error = new RulesetError(code, `${source}: line ${line}: ${message}`);
    if (!problems) throw error;
    problems.push(error);
  };
  const fail = (line: number, message: string): never => {
    throw new RulesetError("NFT_SYNTAX", `${source}: line ${line}: ${message}`);
  };
  const tokens = substituteDefines(tokenize(text, fail), report);
  const lines = text.split(/\r?\n/);
  const tables: NftTable[] = [];
  let position = 0;
  const peek = () => tokens[position]!;
  const next = () => tokens[position++]!;
  const skipEnds = () => {
    while (position < tokens.length && peek().kind === "end") position++;
  };
  /** The tokens of one statement: up to its end, braces nested and spanning lines. */
  const statement = (): Token[] => {
    const words: Token[] = [];
    let depth = 0;
    while (position < tokens.length) {
      const token = peek();
      if (token.kind === "end" && depth === 0) break;
      if (token.kind === "close" && depth === 0) break;
      position++;
      if (token.kind === "open") depth++;
      if (token.kind === "close") depth--;
      if (token.kind === "end") continue;
      words.push(token);
    }
    return words;
  };
  /** The words before a block's `{` (or to the statement's end), the brace left in place. */
  const header = (): Token[] => {
    const words: Token[] = [];
    while (position < tokens.length && peek().kind === "word") words.push(next());
    if (peek()?.kind === "string") words.push(next());
    return words;
  };
  const skipBlock = () => {
    let depth = 0;
    while (position < tokens.length) {
      const token = next();
      if (token.kind === "open") depth++;
      if (token.kind === "close" && --depth <= 0) return;
    }
  };
  const expectOpen = (what: string, line: number) => {
    if (peek().kind !== "open") fail(line, `${what} needs a block: { ... }`);
    next();
  };

  while (position < tokens.length) {
    skipEnds();
    if (position >= tokens.length) break;
    const first = peek();
    if (first.kind !== "word") fail(first.line, `unexpected "${first.text}" outside a table`);
    if (first.text === "flush" || first.text === "destroy" || first.text === "delete") {
      // `flush ruleset` clears what was loaded before; a file read on its own starts empty anyway.
      const words = statement();
      if (words.map((word) => word.text).join(" ") !== `${first.text} ruleset` && first.text !== "flush") report(first.line, `"${words.map((word) => word.text).join(" ")}": only "flush ruleset" is taken`, "NFT_UNSUPPORTED");
      continue;
    }
    if (first.text === "include") {
      report(first.line, "include is not followed: pass the ruleset as one file (nft -f FILE, then `nft list ruleset > FILE` gives it whole)", "NFT_UNSUPPORTED");
      statement();
      continue;
    }
    if (first.text !== "table") {
      report(first.line, `"${lines[first.line - 1]?.trim()}": only the block form (table FAMILY NAME { ... }) is read; load your commands with nft -f and give slamlab \`nft list ruleset\``, "NFT_UNSUPPORTED");
      statement();
      if (peek()?.kind === "open") skipBlock();
      continue;
    }
    next();
    let familyWord = next();
    let family: NftFamily = "ip";
    if (FAMILIES.includes(familyWord.text as NftFamily) && peek().kind === "word") {
      family = familyWord.text as NftFamily;
      familyWord = next();
    }
    const table: NftTable = { family, name: familyWord.text, line: first.line, chains: new Map(), sets: new Map(), counters: new Map(), ctHelpers: new Map(), statefulObjects: new Map() };
    expectOpen(`table ${family} ${table.name}`, first.line);
    tables.push(table);
    for (;;) {
      skipEnds();
      if (position >= tokens.length) fail(first.line, `table ${family} ${table.name} is not closed (a missing })`);
      const head = peek();
      if (head.kind === "close") {
        next();
        break;
      }
      const words = header();
      const keyword = words[0]?.text;
      if ((keyword === "chain" || keyword === "set" || keyword === "map") && words.length === 2 && peek().kind === "open") {
        next();
        if (keyword === "chain") table.chains.set(words[1]!.text, readChain(words[1]!.text, head.line));
        // Sets and maps share one namespace in a table: a rule's @NAME finds either.
        else table.sets.set(words[1]!.text, readSet(words[1]!.text, head.line, keyword === "map" ? "map" : "set"));
        continue;
      }
      if (keyword === "counter" && words.length === 2) {
        // A named counter: its body holds a comment and the counts `nft list ruleset` prints, nothing that decides.
        table.counters.set(words[1]!.text, head.line);
        if (peek().kind === "open") skipBlock();
        continue;
      }
      if ((keyword === "quota" || keyword === "limit") && words.length === 2 && peek().kind === "open") {
        next();
        // Both share a namespace with nothing else: the key is the kind and the name.
        table.statefulObjects.set(`${keyword} ${words[1]!.text}`, { kind: keyword, name: words[1]!.text, line: head.line, tokens: readObjectBody(`${keyword} ${words[1]!.text}`, head.line) });
        continue;
      }
      if (keyword === "ct" && words[1]?.text === "helper" && words.length === 3 && peek().kind === "open") {
        next();
        table.ctHelpers.set(words[2]!.text, readCtHelper(words[2]!.text, head.line));
        continue;
      }
      if (peek().kind === "open") {
        if (keyword === "flowtable" || keyword === "quota" || keyword === "limit" || keyword === "ct" || keyword === "secmark" || keyword === "synproxy") {
          report(head.line, `named ${keyword} objects are not modelled`, "NFT_UNSUPPORTED");
          skipBlock();
          continue;
        }
        fail(head.line, `"${words.map((word) => word.text).join(" ")} {" in table ${table.name}: expected chain NAME { ... } or set NAME { ... }`);
      }
      if (keyword === "flags" || keyword === "comment") continue;
      if (keyword === "quota" || keyword === "limit" || keyword === "ct" || keyword === "flowtable" || keyword === "secmark" || keyword === "synproxy") {
        report(head.line, `named ${keyword} objects are not modelled`, "NFT_UNSUPPORTED");
        if (peek().kind === "open") skipBlock();
        continue;
      }
      fail(head.line, `"${words.map((word) => word.text).join(" ")}" in table ${table.name}: expected chain NAME { ... } or set NAME { ... }`);
    }
  }
  return { tables };

  function readChain(name: string, line: number): NftChain {
    const chain: { name: string; line: number; base: NftBaseChain | null; rules: NftChain["rules"] } = { name, line, base: null, rules: [] };
    let type: string | null = null;
    let hook: string | null = null;
    let priority = 0;
    let policy: "accept" | "drop" = "accept";
    let devices: string[] | null = null;
    /** `device eth0`, `device "eth0"` or `devices = { eth0, eth1 }`: the names up to priority, policy or the statement's end. */
    const deviceNames = (words: readonly NftToken[]) => {
      const names: string[] = [];
      for (const word of words) {
        if (!word.quoted && (word.text === "priority" || word.text === "policy")) break;
        if (!word.quoted && ["=", "{", "}", ","].includes(word.text)) continue;
        names.push(...word.text.split(",").filter((name) => name !== ""));
      }
      return names;
    };
    for (;;) {
      skipEnds();
      if (position >= tokens.length) fail(line, `chain ${name} is not closed (a missing })`);
      if (peek().kind === "close") {
        next();
        break;
      }
      const start = position;
      const words = statement();
      if (words.length === 0) {
        // A lone brace: not a statement of a chain.
        if (position === start) fail(peek().line, `unexpected "${peek().text}" in chain ${name}`);
        continue;
      }
      const keyword = words[0]!.text;
      if (keyword === "type" && !words[0]!.quoted) {
        type = words[1]?.text ?? "";
        const hookAt = words.findIndex((word) => word.text === "hook");
        const priorityAt = words.findIndex((word) => word.text === "priority");
        hook = hookAt >= 0 ? (words[hookAt + 1]?.text ?? null) : null;
        const deviceAt = words.findIndex((word) => !word.quoted && (word.text === "device" || word.text === "devices"));
        if (deviceAt >= 0) devices = deviceNames(words.slice(deviceAt + 1));
        if (priorityAt >= 0) {
          const value = words.slice(priorityAt + 1).map((word) => word.text).join(" ");
          const named = /^([a-z]+)\s*(?:([+-])\s*(\d+))?$/.exec(value);
          if (named && NAMED_PRIORITIES[named[1]!] !== undefined) priority = NAMED_PRIORITIES[named[1]!]! + (named[2] === "-" ? -1 : 1) * Number(named[3] ?? 0);
          else if (/^-?\d+$/.test(value)) priority = Number(value);
          else report(words[0]!.line, `chain ${name}: priority "${value}" is not a number or a known name (raw, mangle, dstnat, filter, security, srcnat)`);
        }
        continue;
      }
      if (keyword === "policy") {
        const value = words[1]?.text;
        if (value !== "accept" && value !== "drop") report(words[0]!.line, `chain ${name}: policy ${value} (a base chain's policy is accept or drop)`);
        else policy = value;
        continue;
      }
      if (keyword === "comment" && words.length === 2) continue;
      if (keyword === "devices" || keyword === "device") {
        devices = deviceNames(words.slice(1));
        continue;
      }
      const ruleLine = words[0]!.line;
      const lastLine = words[words.length - 1]!.line;
      chain.rules.push({ index: chain.rules.length + 1, line: ruleLine, text: lines.slice(ruleLine - 1, lastLine).map((text) => text.trim()).join(" "), tokens: words });
    }
    if (type !== null) {
      if (type !== "filter" && type !== "nat" && type !== "route") report(line, `chain ${name}: type ${type} (expected filter, nat or route)`);
      else if (!HOOKS.includes(hook as (typeof HOOKS)[number])) report(line, `chain ${name}: hook ${hook ?? "(none)"} (expected one of ${HOOKS.join(", ")})`);
      else if ((hook === "ingress" || hook === "egress") && !devices?.length) report(line, `chain ${name}: hook ${hook} needs the device it runs on (device eth0, or devices = { eth0, eth1 })`);
      else chain.base = { type, hook: hook as NftBaseChain["hook"], priority, policy, ...(devices?.length ? { devices } : {}) };
    }
    return chain;
  }

  function readSet(name: string, line: number, kind: "set" | "map"): NftSet {
    let type: string[] = [];
    let data: string | null = null;
    const flags = new Set<string>();
    let timeoutMs = 0;
    let gcIntervalMs: number | undefined;
    let size = 0;
    const elements: NftToken[][] = [];
    for (;;) {
      skipEnds();
      if (position >= tokens.length) fail(line, `set ${name} is not closed (a missing })`);
      if (peek().kind === "close") {
        next();
        break;
      }
      const words = statement();
      const keyword = words[0]?.text;
      const rest = words.slice(1).map((word) => word.text);
      if (keyword === "type" || keyword === "typeof") {
        const [key = "", value] = rest.join(" ").split(/\s*:\s*/);
        type = keyword === "type" ? key.split(/\s*\.\s*/) : key.split(" . ").map((field) => typeofType(field, words[0]!.line));
        data = value === undefined ? null : keyword === "type" ? value : typeofType(value, words[0]!.line);
      }
      else if (keyword === "flags") for (const flag of rest.join("").split(",")) flags.add(flag);
      else if (keyword === "timeout") {
        const value = parseNftDuration(rest[0] ?? "");
        if (value === null) report(words[0]!.line, `set ${name}: timeout ${rest[0]} is not a duration (e.g. 60s, 1m, 1h30m)`);
        else timeoutMs = value;
      } else if (keyword === "size") size = Number(rest[0]);
      else if (keyword === "elements") {
        const body = words.slice(2).filter((word) => word.quoted || (word.text !== "=" && word.text !== "{" && word.text !== "}"));
        elements.push(...splitElements(body, kind === "map"));
      } else if (keyword === "gc-interval") {
        const value = parseNftDuration(rest[0] ?? "");
        if (value === null || value === 0) report(words[0]!.line, `set ${name}: gc-interval ${rest[0]} is not a duration (e.g. 1s, 500ms)`);
        else gcIntervalMs = value;
      } else if (keyword === "comment" || keyword === "auto-merge" || keyword === "policy" || keyword === "counter") continue;
      else report(words[0]?.line ?? line, `${kind} ${name}: "${words.map((word) => word.text).join(" ")}" is not modelled`, "NFT_UNSUPPORTED");
    }
    if (kind === "map" && data === null) report(line, `map ${name}: its type needs a key and data type (type ipv4_addr : verdict)`);
    if (kind === "set" && data !== null) report(line, `set ${name}: a set's type has no data (write map ${name} { ... } for KEY : DATA)`);
    return { name, line, type, data, flags, timeoutMs, ...(gcIntervalMs === undefined ? {} : { gcIntervalMs }), size, elements };
  }

  /** A quota's or limit's body: its statements' words, comments left out. */
  function readObjectBody(what: string, line: number): NftToken[] {
    const body: NftToken[] = [];
    for (;;) {
      skipEnds();
      if (position >= tokens.length) fail(line, `${what} is not closed (a missing })`);
      if (peek().kind === "close") {
        next();
        return body;
      }
      const words = statement();
      if (words[0]?.text !== "comment") body.push(...words);
    }
  }

  /** `ct helper NAME { type "sip" protocol udp; [l3proto ip;] }`: nft needs the type and the protocol. */
  function readCtHelper(name: string, line: number): NftCtHelper {
    let type: string | null = null;
    let protocol: string | null = null;
    let l3proto: string | null = null;
    for (;;) {
      skipEnds();
      if (position >= tokens.length) fail(line, `ct helper ${name} is not closed (a missing })`);
      if (peek().kind === "close") {
        next();
        break;
      }
      const words = statement();
      const keyword = words[0]?.text;
      if (keyword === "type" && words[1]?.quoted && words[2]?.text === "protocol") {
        type = words[1].text;
        protocol = words[3]?.text ?? "";
      } else if (keyword === "l3proto") l3proto = words[1]?.text ?? "";
      else if (keyword !== "comment") report(words[0]?.line ?? line, `ct helper ${name}: "${words.map((word) => word.text).join(" ")}" is not modelled (type "NAME" protocol tcp|udp and l3proto are)`, "NFT_UNSUPPORTED");
    }
    if (type === null || (protocol !== "tcp" && protocol !== "udp")) report(line, `ct helper ${name}: it needs type "NAME" protocol tcp|udp`);
    if (l3proto !== null && !["ip", "ip6", "inet"].includes(l3proto)) report(line, `ct helper ${name}: l3proto ${l3proto} (expected ip, ip6 or inet)`);
    return { name, line, type: type ?? "", protocol: protocol === "tcp" ? "tcp" : "udp", l3proto };
  }

  function typeofType(expression: string, at: number): string {
    const known: Record<string, string> = { verdict: "verdict", "ct mark": "mark", "meta l4proto": "inet_proto", "ip protocol": "inet_proto", "ip saddr": "ipv4_addr", "ip daddr": "ipv4_addr", "ip6 saddr": "ipv6_addr", "ip6 daddr": "ipv6_addr", "udp dport": "inet_service", "udp sport": "inet_service", "tcp dport": "inet_service", "tcp sport": "inet_service", "th dport": "inet_service", "th sport": "inet_service", "meta mark": "mark", iifname: "ifname", oifname: "ifname", "meta iifname": "ifname", "meta oifname": "ifname" };
    const type = Object.hasOwn(known, expression) ? known[expression] : undefined;
    if (!type) report(at, `typeof ${expression}: not modelled`, "NFT_UNSUPPORTED");
    return type ?? "unknown";
  }
}

/** `define NAME = VALUE` binds the tokens to the end of the line; `$NAME` expands them. */
function substituteDefines(tokens: Token[], report: (line: number, message: string) => void): Token[] {
  const defines = new Map<string, Token[]>();
  const out: Token[] = [];
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index]!;
    const atStatementStart = out.length === 0 || out[out.length - 1]!.kind === "end";
    if (token.kind === "word" && token.text === "define" && atStatementStart) {
      const name = tokens[index + 1];
      if (!name || tokens[index + 2]?.text !== "=") {
        report(token.line, "define needs NAME = VALUE");
        continue;
      }
      const value: Token[] = [];
      let depth = 0;
      index += 3;
      for (; index < tokens.length; index++) {
        const part = tokens[index]!;
        if (part.kind === "end" && depth === 0) break;
        if (part.kind === "open") depth++;
        if (part.kind === "close") depth--;
        if (part.kind !== "end") value.push(part);
      }
      defines.set(name.text, expand(value, token.line));
      continue;
    }
    out.push(...expand([token], token.line));
  }
  return out;

  function expand(list: Token[], line: number): Token[] {
    return list.flatMap((token) => {
      if (token.kind !== "word" || !token.text.startsWith("$")) return [token];
      const value = defines.get(token.text.slice(1));
      if (!value) {
        report(line, `${token.text} is not defined (define ${token.text.slice(1)} = ... before it)`);
        return [token];
      }
      return value.map((part) => ({ ...part, line: token.line }));
    });
  }
}
