import { checkRuleLoads } from "./check-rule-loads.js";
import { tokenizeRule } from "./tokenize-rule.js";
import {
  builtinChains,
  matchVocabulary,
  optionAliases,
  protocolNames,
  targetVocabulary,
  type OptionArity,
} from "./rule-vocabulary.js";
import {
  RulesetError,
  type BuiltinTarget,
  type Chain,
  type MatchSpec,
  type Negatable,
  type Rule,
  type RuleOption,
  type Ruleset,
  type Table,
  type TargetSpec,
} from "./ruleset.js";

interface ChainDraft {
  name: string;
  policy: "ACCEPT" | "DROP" | null;
  rules: Rule[];
  line: number;
}

interface TableDraft {
  name: string;
  chains: Map<string, ChainDraft>;
  line: number;
}

/**
 * Reads iptables-restore input as people write it and as `iptables-save`
 * prints it back (`-m udp` added, `[pkts:bytes]` counters, quoted comments),
 * into typed rules. Both spellings of a rule give the same Rule. Jumps are
 * checked against the table's chains at COMMIT, as iptables-restore does.
 */
export function parseRuleset(text: string, source = "ruleset", problems?: RulesetError[]): Ruleset {
  const tables = new Map<string, Table>();
  // With a list to collect into, a rule or chain line that cannot be read is noted and left out, and reading goes on.
  const attempt = (step: () => void) => {
    if (!problems) return step();
    try {
      step();
    } catch (error) {
      if (!(error instanceof RulesetError)) throw error;
      problems.push(new RulesetError(error.code, `${source}: ${error.message}`));
    }
  };
  let table: TableDraft | null = null;
  const lines = text.split(/\r?\n/);
  try {
    for (let index = 0; index < lines.length; index++) {
      const lineNumber = index + 1;
      const line = lines[index]!.trim();
      if (line === "" || line.startsWith("#")) continue;
      if (line.startsWith("*")) {
        if (table) throw new RulesetError("RULESET_SYNTAX", `table "${line.slice(1)}" starts before table "${table.name}" was committed; add COMMIT`, lineNumber);
        const name = line.slice(1).trim();
        if (!builtinChains[name]) throw new RulesetError("RULESET_SYNTAX", `unknown table "${name}"; tables are ${Object.keys(builtinChains).join(", ")}`, lineNumber);
        if (tables.has(name)) throw new RulesetError("RULESET_SYNTAX", `table "${name}" appears twice`, lineNumber);
        table = { name, chains: new Map(), line: lineNumber };
        continue;
      }
      if (!table) {
        throw new RulesetError(
          "RULESET_SYNTAX",
          `"${line.slice(0, 40)}" is outside a table; iptables-restore input starts each table with a line like *filter and ends it with COMMIT`,
          lineNumber,
        );
      }
      if (line === "COMMIT") {
        tables.set(table.name, finishTable(table, problems === undefined ? undefined : (error) => problems.push(new RulesetError(error.code, `${source}: ${error.message}`))));
        table = null;
      } else if (line.startsWith(":")) {
        const draft = table;
        attempt(() => declareChain(draft, line, lineNumber));
      } else {
        const draft = table;
        attempt(() => addRuleLine(draft, tokenizeRule(line, lineNumber), line, lineNumber));
      }
    }
  } catch (error) {
    if (error instanceof RulesetError) throw new RulesetError(error.code, `${source}: ${error.message}`);
    throw error;
  }
  if (table) throw new RulesetError("RULESET_SYNTAX", `${source}: table "${table.name}" (line ${table.line}) has no COMMIT line; iptables-restore would not load it`);
  if (tables.size === 0) throw new RulesetError("RULESET_SYNTAX", `${source}: no table found; expected iptables-save output starting with *filter`);
  return { tables, text, source };
}

function declareChain(table: TableDraft, line: string, lineNumber: number): void {
  const [name, policy] = line.slice(1).split(/\s+/);
  if (!name || !/^[A-Za-z0-9_.-]{1,28}$/.test(name)) {
    throw new RulesetError("RULESET_SYNTAX", `bad chain declaration "${line}"; expected ":NAME POLICY [packets:bytes]" with a name of up to 28 characters`, lineNumber);
  }
  const builtin = builtinChains[table.name]!.includes(name);
  if (builtin && policy !== "ACCEPT" && policy !== "DROP") {
    throw new RulesetError("RULESET_SYNTAX", `built-in chain ${name} needs a policy ACCEPT or DROP, got "${policy ?? ""}"`, lineNumber);
  }
  if (!builtin && policy !== "-") {
    throw new RulesetError("RULESET_SYNTAX", `user chain ${name} cannot have a policy ("${policy ?? ""}"); declare it as ":${name} - [0:0]"`, lineNumber);
  }
  if (table.chains.has(name)) throw new RulesetError("RULESET_SYNTAX", `chain ${name} is declared twice`, lineNumber);
  table.chains.set(name, { name, policy: builtin ? (policy as "ACCEPT" | "DROP") : null, rules: [], line: lineNumber });
}

/** Two rule specs iptables -D would take for the same rule: everything but where the rule sits. */
function ruleKey(rule: Rule): string {
  const { protocol, source, destination, inInterface, outInterface, fragment, matches, target } = rule;
  return JSON.stringify({ protocol, source, destination, inInterface, outInterface, fragment, matches, target });
}

function chainNamed(table: TableDraft, command: string, name: string | undefined, lineNumber: number): ChainDraft {
  // iptables-restore has the table's built-in chains whether or not the file declares them.
  if (name && !table.chains.has(name) && builtinChains[table.name]!.includes(name)) table.chains.set(name, { name, policy: "ACCEPT", rules: [], line: lineNumber });
  const chain = name ? table.chains.get(name) : undefined;
  if (!name || !chain) {
    throw new RulesetError(
      "RULESET_UNKNOWN_CHAIN",
      `${command} ${name ?? ""}: chain "${name ?? ""}" is not declared in table ${table.name}; declare it with ":${name ?? "NAME"} - [0:0]" first`,
      lineNumber,
    );
  }
  return chain;
}

/** A 1-based rule number as -I, -D and -R take it. */
function ruleNumber(word: string | undefined): number | null {
  return word !== undefined && /^\d+$/.test(word) ? Number(word) : null;
}

/**
 * One command line of a table: -A, -I, -D, -R, -N, -P, -F, -X and -Z, which
 * iptables-restore applies in order before COMMIT, as `iptables` would.
 */
function addRuleLine(table: TableDraft, allWords: string[], text: string, lineNumber: number): void {
  // iptables-save -c prefixes counters: "[12:3456] -A INPUT ..."
  const words = /^\[\d+:\d+\]$/.test(allWords[0] ?? "") ? allWords.slice(1) : allWords;
  const command = words[0];
  const parse = (chain: ChainDraft, specWords: string[], index: number) => parseRule(specWords, { table: table.name, chain: chain.name, index, line: lineNumber, text });
  switch (command) {
    case "-N":
    case "--new-chain":
      declareChain(table, `:${words[1] ?? ""} -`, lineNumber);
      return;
    case "-A":
    case "--append": {
      const chain = chainNamed(table, "-A", words[1], lineNumber);
      chain.rules.push(parse(chain, words.slice(2), chain.rules.length + 1));
      return;
    }
    case "-I":
    case "--insert": {
      const chain = chainNamed(table, "-I", words[1], lineNumber);
      const position = ruleNumber(words[2]);
      const at = position ?? 1;
      if (at < 1 || at > chain.rules.length + 1) throw new RulesetError("RULESET_REJECTED", `-I ${chain.name} ${at}: the chain has ${chain.rules.length} rules (iptables: "Index of insertion too big")`, lineNumber);
      chain.rules.splice(at - 1, 0, parse(chain, words.slice(position === null ? 2 : 3), at));
      return;
    }
    case "-R":
    case "--replace":
      // Measured: iptables-nft-restore 1.8.9 dies (segmentation fault) on -R of a rule the same restore added.
      throw new RulesetError("RULESET_REJECTED", `-R: iptables-restore (nf_tables, 1.8.9) crashes on -R of a rule added in the same file; write -D and -I instead`, lineNumber);
    case "-D":
    case "--delete": {
      const chain = chainNamed(table, "-D", words[1], lineNumber);
      const position = ruleNumber(words[2]);
      if (position !== null && words.length === 3) {
        if (position < 1 || position > chain.rules.length) throw new RulesetError("RULESET_REJECTED", `-D ${chain.name} ${position}: the chain has ${chain.rules.length} rules (iptables: "Index of deletion too big")`, lineNumber);
        chain.rules.splice(position - 1, 1);
        return;
      }
      const key = ruleKey(parse(chain, words.slice(2), 0));
      const index = chain.rules.findIndex((rule) => ruleKey(rule) === key);
      if (index < 0) throw new RulesetError("RULESET_REJECTED", `-D ${chain.name}: no such rule in the chain (iptables: "Bad rule (does a matching rule exist in that chain?)")`, lineNumber);
      chain.rules.splice(index, 1);
      return;
    }
    case "-P":
    case "--policy": {
      const chain = chainNamed(table, "-P", words[1], lineNumber);
      const policy = words[2];
      if (chain.policy === null) throw new RulesetError("RULESET_REJECTED", `-P ${chain.name}: only built-in chains have a policy`, lineNumber);
      if (policy !== "ACCEPT" && policy !== "DROP") throw new RulesetError("RULESET_SYNTAX", `-P ${chain.name} ${policy ?? ""}: the policy is ACCEPT or DROP`, lineNumber);
      chain.policy = policy;
      return;
    }
    case "-F":
    case "--flush":
    case "-Z":
    case "--zero": {
      // Zeroing counters changes no verdict.
      if (command === "-Z" || command === "--zero") return;
      const chains = words[1] ? [chainNamed(table, "-F", words[1], lineNumber)] : [...table.chains.values()];
      for (const chain of chains) chain.rules.length = 0;
      return;
    }
    case "-X":
    case "--delete-chain": {
      const names = words[1] ? [chainNamed(table, "-X", words[1], lineNumber).name] : [...table.chains.values()].filter((chain) => chain.policy === null).map((chain) => chain.name);
      for (const name of names) {
        const chain = table.chains.get(name)!;
        // iptables-nft-restore loads -X of a built-in chain and changes nothing.
        if (chain.policy !== null) continue;
        const referrer = [...table.chains.values()].flatMap((other) => other.rules).find((rule) => rule.target?.chain === name);
        if (referrer) throw new RulesetError("RULESET_REJECTED", `-X ${name}: line ${referrer.line} still jumps to it (iptables: "Device or resource busy")`, lineNumber);
        if (chain.rules.length) throw new RulesetError("RULESET_REJECTED", `-X ${name}: the chain still holds rules; flush it first (iptables: "Directory not empty")`, lineNumber);
        table.chains.delete(name);
      }
      return;
    }
    default:
      throw new RulesetError("RULESET_SYNTAX", `"${command}" is not a rule; iptables-restore lines are "-A CHAIN ...", "-I", "-D", "-R", "-N", "-P", "-F", "-X", "-Z", ":CHAIN POLICY" or COMMIT`, lineNumber);
  }
}

function finishTable(table: TableDraft, noteProblem?: (error: RulesetError) => void): Table {
  for (const name of builtinChains[table.name]!) {
    if (!table.chains.has(name)) table.chains.set(name, { name, policy: "ACCEPT", rules: [], line: table.line });
  }
  const chains = new Map<string, Chain>();
  for (const chain of table.chains.values()) {
    const kept: Rule[] = [];
    for (const rule of chain.rules) {
      try {
        checkJumpTarget(table, rule);
        kept.push(rule);
      } catch (error) {
        if (!noteProblem || !(error instanceof RulesetError)) throw error;
        noteProblem(error);
      }
    }
    // -I, -D and -R moved rules: number them as `iptables -L --line-numbers` would now.
    chains.set(chain.name, { name: chain.name, policy: chain.policy, rules: kept.map((rule, index) => (rule.index === index + 1 ? rule : { ...rule, index: index + 1 })) });
  }
  return { name: table.name, chains };
}

function checkJumpTarget(table: TableDraft, rule: Rule): void {
  const target = rule.target;
  if (!target || (target.kind !== "jump" && target.kind !== "goto")) return;
  if (!table.chains.has(target.chain!)) {
    throw new RulesetError(
      "RULESET_UNKNOWN_TARGET",
      `${target.kind === "goto" ? "-g" : "-j"} ${target.chain}: no such target or chain in table ${table.name}; declare the chain with ":${target.chain} - [0:0]" or use one of ${Object.keys(targetVocabulary).join(", ")}`,
      rule.line,
    );
  }
  if (builtinChains[table.name]!.includes(target.chain!)) throw new RulesetError("RULESET_SYNTAX", `cannot jump to built-in chain ${target.chain}`, rule.line);
}

interface RulePlace {
  table: string;
  chain: string;
  index: number;
  line: number;
  text: string;
}

const addressOptions: Record<string, "source" | "destination" | "inInterface" | "outInterface" | "protocol"> = {
  "-s": "source",
  "--source": "source",
  "--src": "source",
  "-d": "destination",
  "--destination": "destination",
  "--dst": "destination",
  "-i": "inInterface",
  "--in-interface": "inInterface",
  "-o": "outInterface",
  "--out-interface": "outInterface",
  "-p": "protocol",
  "--protocol": "protocol",
};

function parseRule(words: string[], place: RulePlace): Rule {
  const line = place.line;
  const fields: { -readonly [K in keyof Rule]?: Rule[K] } = {};
  const matches: { module: string; options: RuleOption[] }[] = [];
  let target: { kind: TargetSpec["kind"]; chain?: string; options: RuleOption[] } | null = null;
  let targetArity: OptionArity | null = null;
  let negateNext = false;
  let i = 0;

  const takeValue = (option: string): string => {
    let value = words[++i];
    // Old iptables syntax puts the "!" after the option: "-s ! 1.2.3.4".
    if (value === "!") {
      negateNext = !negateNext;
      value = words[++i];
    }
    if (value === undefined) throw new RulesetError("RULESET_SYNTAX", `${option} needs a value`, line);
    return value;
  };

  while (i < words.length) {
    const word = words[i]!;
    if (word === "!") {
      negateNext = true;
      i++;
      continue;
    }
    const field = addressOptions[word];
    if (field) {
      const value = takeValue(word);
      if (fields[field]) throw new RulesetError("RULESET_SYNTAX", `${word} given twice`, line);
      const normalised = field === "protocol" ? (protocolNames[value] ?? value.toLowerCase()) : value;
      (fields as Record<string, Negatable<string>>)[field] = { value: normalised, negated: negateNext };
      negateNext = false;
      i++;
      continue;
    }
    if (word === "-f" || word === "--fragment") {
      fields.fragment = { value: true, negated: negateNext };
      negateNext = false;
      i++;
      continue;
    }
    if (word === "-c" || word === "--set-counters") {
      i += 3;
      continue;
    }
    if (word === "-m" || word === "--match") {
      if (negateNext) throw new RulesetError("RULESET_SYNTAX", `"!" cannot negate -m; put it before the match's option`, line);
      const module = takeValue(word);
      if (module === "geoip") {
        // xtables-addons' geoip needs a country database and a kernel module the lab has neither of.
        throw new RulesetError(
          "RULESET_UNKNOWN_MATCH",
          "-m geoip is not modelled: slamlab has no country database, and the lab's kernel has no xt_geoip (xtables-addons); lab addresses have no country. Drop the rule, or replace it with the networks it stands for (-s, -m iprange, or an ipset hash:net from the same list)",
          line,
        );
      }
      if (!matchVocabulary[module]) {
        throw new RulesetError(
          "RULESET_UNKNOWN_MATCH",
          `-m ${module}: the model engine does not interpret this match (it knows ${Object.keys(matchVocabulary).join(", ")}); run this ruleset with --engine docker`,
          line,
        );
      }
      if (target) throw new RulesetError("RULESET_SYNTAX", `-m ${module} after the target; put matches before -j`, line);
      matches.push({ module, options: [] });
      i++;
      continue;
    }
    if (word === "-j" || word === "--jump" || word === "-g" || word === "--goto") {
      if (target) throw new RulesetError("RULESET_SYNTAX", `more than one target (${word})`, line);
      const name = takeValue(word);
      const isGoto = word === "-g" || word === "--goto";
      if (isGoto || !targetVocabulary[name]) {
        target = { kind: isGoto ? "goto" : "jump", chain: name, options: [] };
        targetArity = {};
      } else {
        target = { kind: name as BuiltinTarget, options: [] };
        targetArity = targetVocabulary[name]!;
      }
      i++;
      continue;
    }
    if (word.startsWith("--")) {
      const name = optionAliases[word.slice(2)] ?? word.slice(2);
      const owner = ownerOf(name, matches, target, targetArity, fields.protocol?.value);
      if (!owner) throw unknownOption(word, matches, target, fields.protocol?.value, line);
      const arity = owner.arity[name]!;
      const args: string[] = [];
      for (let n = 0; n < arity; n++) args.push(takeValue(word));
      owner.options.push({ name, args, negated: negateNext });
      negateNext = false;
      i++;
      continue;
    }
    throw new RulesetError("RULESET_SYNTAX", `unexpected "${word}"; options start with - or --`, line);
  }
  if (negateNext) throw new RulesetError("RULESET_SYNTAX", `"!" at the end of the rule negates nothing`, line);
  for (const match of matches) checkProtocolMatch(match.module, fields.protocol, line);
  const comment = matches.find((match) => match.module === "comment")?.options.find((option) => option.name === "comment")?.args[0];
  const rule: Rule = {
    table: place.table,
    chain: place.chain,
    index: place.index,
    line: place.line,
    text: place.text,
    ...fields,
    matches: matches as MatchSpec[],
    target: target as TargetSpec | null,
    ...(comment !== undefined ? { comment } : {}),
  };
  checkRuleLoads(rule);
  return rule;
}

/** Which match or target takes `--name`: the latest one that knows it, else the protocol's implicit match. */
function ownerOf(
  name: string,
  matches: { module: string; options: RuleOption[] }[],
  target: { options: RuleOption[] } | null,
  targetArity: OptionArity | null,
  protocol: string | undefined,
): { options: RuleOption[]; arity: OptionArity } | null {
  if (target) return targetArity && name in targetArity ? { options: target.options, arity: targetArity } : null;
  for (let m = matches.length - 1; m >= 0; m--) {
    const arity = matchVocabulary[matches[m]!.module]!;
    if (name in arity) return { options: matches[m]!.options, arity };
  }
  // `-p udp --dport 5060` loads the udp match implicitly; iptables-save then prints `-m udp`.
  const implicit = protocol ? matchVocabulary[protocol] : undefined;
  if (protocol && implicit && name in implicit && (protocol === "udp" || protocol === "tcp" || protocol === "icmp")) {
    const match = { module: protocol, options: [] as RuleOption[] };
    matches.push(match);
    return { options: match.options, arity: implicit };
  }
  return null;
}

function unknownOption(
  word: string,
  matches: { module: string }[],
  target: { kind: string; chain?: string } | null,
  protocol: string | undefined,
  line: number,
): RulesetError {
  if (target) {
    const name = target.kind === "jump" || target.kind === "goto" ? target.chain : target.kind;
    return new RulesetError("RULESET_SYNTAX", `unknown option ${word} for target ${name}`, line);
  }
  const loaded = matches.map((match) => match.module);
  if (protocol) loaded.push(`-p ${protocol}`);
  return new RulesetError(
    "RULESET_SYNTAX",
    `unknown option ${word}${loaded.length ? ` (none of ${loaded.join(", ")} takes it)` : ""}; load its match with -m first`,
    line,
  );
}

function checkProtocolMatch(module: string, protocol: Negatable<string> | undefined, line: number): void {
  if ((module === "udp" || module === "tcp" || module === "icmp") && (protocol?.value !== module || protocol.negated)) {
    throw new RulesetError("RULESET_SYNTAX", `-m ${module} needs "-p ${module}" in the same rule (iptables: "Need protocol")`, line);
  }
  if (module === "multiport" && protocol?.value !== "udp" && protocol?.value !== "tcp") {
    throw new RulesetError("RULESET_SYNTAX", `-m multiport needs -p udp or -p tcp in the same rule`, line);
  }
}
