import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scenarioWithDefence } from "../../../src/compare/defences.js";
import { fail2banFirewall, stockAsteriskJail } from "../../../src/scenario/with-fail2ban.js";
import { createAsteriskPbx, type SecurityLogLine } from "../../../src/engines/model/asterisk-pbx.js";
import { Fail2banJail } from "../../../src/engines/model/fail2ban-jail.js";
import { runModel } from "../../../src/engines/model/model-engine.js";
import { resolveScenarioRef } from "../../../src/scenario/catalogue.js";
import { loadScenario } from "../../../src/scenario/load-scenario.js";
import { answerChallenge, formatCredentials, parseChallenge } from "../../../src/sip/digest.js";
import { formatRequest, parseSip } from "../../../src/sip/sip-message.js";
import type { Datagram } from "../../../src/traffic/agent.js";
import { scratchDirectory } from "../../helpers/scratch-directory.js";

const required = process.env.SLAMLAB_REQUIRE_DOCKER === "1";
const fail2banRegex = spawnSync("fail2ban-regex", ["--version"], { encoding: "utf8" }).status === 0;
if (!fail2banRegex && !required) console.log("skipping the check of Asterisk's log lines against fail2ban's own filter: no fail2ban-regex here (apt-get install fail2ban)");

const pbxSpec = { address: "198.51.100.10", port: 5060, iax2Port: 4569, tlsPort: 5061, realm: "asterisk", interface: "eth0", accounts: [{ users: "200-209", password: "pw-{user}" }] };
const request = (method: string, user: string, from: string, extra: Array<[string, string]> = []): Datagram => ({
  src: from,
  sport: 5060,
  dst: pbxSpec.address,
  dport: 5060,
  payload: formatRequest(method, `sip:${user}@${pbxSpec.address}`, [
    ["Via", `SIP/2.0/UDP ${from}:5060;branch=z9hG4bK-${user}${method}${extra.length}`],
    ["From", `"${user}" <sip:${user}@${pbxSpec.address}>;tag=1`],
    ["To", `"${user}" <sip:${user}@${pbxSpec.address}>`],
    ["Call-ID", `call-${user}`],
    ["CSeq", `1 ${method}`],
    ...extra,
  ]),
});

describe("Asterisk's log of failed requests (res_pjsip/pjsip_distributor.c)", () => {
  const lines: SecurityLogLine[] = [];
  const pbx = createAsteriskPbx(pbxSpec, (line) => lines.push(line));
  const answer = (datagram: Datagram, at: number) => parseSip(pbx.receive(datagram, at)[0]!.datagram.payload)!;
  const withPassword = (user: string, password: string, from: string, at: number) => {
    const challenge = parseChallenge(answer(request("REGISTER", user, from), at).header("www-authenticate")!)!;
    const credentials = formatCredentials(answerChallenge(challenge, { username: user, password, method: "REGISTER", uri: `sip:${user}@${pbxSpec.address}`, cnonce: "c", nc: 1 }));
    return answer(request("REGISTER", user, from, [["Authorization", credentials]]), at + 1000);
  };

  it("logs what fail2ban reads: an unknown From user at once, a known account's wrong credentials; never a plain challenge or a success", () => {
    lines.length = 0;
    expect(answer(request("REGISTER", "999", "198.18.66.6"), 1_000_000).status).toBe(401);
    expect(lines.map((line) => [line.address, line.reason])).toEqual([["198.18.66.6", "No matching endpoint found"]]);
    lines.length = 0;
    expect(withPassword("201", "wrong", "198.18.66.7", 2_000_000).status).toBe(401);
    expect(lines.map((line) => [line.address, line.reason])).toEqual([["198.18.66.7", "Failed to authenticate"]]);
    lines.length = 0;
    expect(withPassword("202", "pw-202", "198.18.1.1", 3_000_000).status).toBe(200);
    expect(answer(request("OPTIONS", "203", "198.18.1.1"), 4_000_000).status).toBe(200);
    expect(lines).toEqual([]);
    // The artificial endpoint challenges an unknown user, and logs its credentials failing too.
    expect(withPassword("998", "guess", "198.18.66.8", 5_000_000).status).toBe(401);
    expect(lines.map((line) => line.reason)).toEqual(["No matching endpoint found", "No matching endpoint found", "Failed to authenticate"]);
  });

  it.runIf(fail2banRegex || required)("its lines are ones fail2ban's stock asterisk filter matches, naming the source address", () => {
    lines.length = 0;
    answer(request("REGISTER", "999", "198.18.66.6"), 1_000_000);
    withPassword("201", "wrong", "198.18.66.7", 2_000_000);
    answer(request("OPTIONS", "100", "198.18.66.9"), 3_000_000);
    // /var/log/asterisk/messages prefixes each line with logger.conf's default date format.
    const log = join(scratchDirectory("fail2ban-regex"), "messages");
    writeFileSync(log, lines.map((line) => `[Jan  1 00:00:0${Math.floor(line.atUs / 1_000_000)}] ${line.text}\n`).join(""));
    const ran = spawnSync("fail2ban-regex", ["-o", "ip", log, "/etc/fail2ban/filter.d/asterisk.conf"], { encoding: "utf8" });
    expect(ran.status, ran.stderr).toBe(0);
    expect(ran.stdout.trim().split("\n")).toEqual(lines.map((line) => line.address));
    expect(lines.map((line) => line.reason)).toEqual(["No matching endpoint found", "Failed to authenticate", "No matching endpoint found"]);
  });
});

describe("Asterisk's log of calls the dialplan refuses (res_pjsip_session.c)", () => {
  it("an authenticated call to a number the context has no extension for is refused 404 (no 100 Trying) and logged as Asterisk 22 writes it", () => {
    const lines: SecurityLogLine[] = [];
    const pbx = createAsteriskPbx(pbxSpec, (line) => lines.push(line));
    const invite = (extra: Array<[string, string]> = []): Datagram => {
      const datagram = request("INVITE", "201", "198.18.66.9", extra);
      const text = Buffer.from(datagram.payload).toString("latin1").replace("INVITE sip:201@", "INVITE sip:0090123456@");
      return { ...datagram, payload: new TextEncoder().encode(text) };
    };
    const challenge = parseChallenge(parseSip(pbx.receive(invite(), 1_000_000)[0]!.datagram.payload)!.header("www-authenticate")!)!;
    const credentials = formatCredentials(answerChallenge(challenge, { username: "201", password: "pw-201", method: "INVITE", uri: "sip:0090123456@198.51.100.10", cnonce: "c", nc: 1 }));
    const answers = pbx.receive(invite([["Authorization", credentials]]), 2_000_000).map((reply) => parseSip(reply.datagram.payload)!.status);
    // The 404, then the same 404 again until an ACK comes (none does here).
    expect(answers).toEqual(Array.from({ length: 11 }, () => 404));
    expect(lines.map((line) => [line.address, line.reason])).toEqual([["198.18.66.9", "extension not found"]]);
    // The line Asterisk 22 wrote in the lab for the same call (test/engines/docker/lab-fail2ban.test.ts runs it through the lab's fail2ban).
    expect(lines[0]!.text).toBe("NOTICE[4242] res_pjsip_session.c:  201: Call (UDP:198.18.66.9:5060) to extension '0090123456' rejected because extension not found in context 'default'.");
  });
});

describe("the dialplan's answer to an INVITE over UDP (RFC 3261 17.2.1, PJSIP's INVITE server transaction)", () => {
  it("comes again on Timer G (0.5 s doubling to 4 s) until Timer H (32 s), and stops once its ACK came; the 401 before it comes once", () => {
    const lines: SecurityLogLine[] = [];
    const pbx = createAsteriskPbx(pbxSpec, (line) => lines.push(line));
    const challenged = pbx.receive(request("INVITE", "201", "198.18.66.9"), 1_000_000);
    // The distributor challenges statelessly, as the lab's Asterisk does: no transaction, no retransmission.
    expect(challenged.map((reply) => parseSip(reply.datagram.payload)!.status)).toEqual([401]);
    const challenge = parseChallenge(parseSip(challenged[0]!.datagram.payload)!.header("www-authenticate")!)!;
    const credentials = formatCredentials(answerChallenge(challenge, { username: "201", password: "pw-201", method: "INVITE", uri: `sip:201@${pbxSpec.address}`, cnonce: "c", nc: 1 }));
    const replies = pbx.receive(request("INVITE", "201", "198.18.66.9", [["Authorization", credentials]]), 1_100_000);
    expect(replies.map((reply) => parseSip(reply.datagram.payload)!.status)).toEqual(Array.from({ length: 11 }, () => 603));
    const first = replies[0]!.delayUs;
    expect(replies.map((reply) => (reply.delayUs - first) / 1_000_000)).toEqual([0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]);
    // The same bytes each time: a retransmission, not a new answer.
    expect(new Set(replies.map((reply) => Buffer.from(reply.datagram.payload).toString("latin1"))).size).toBe(1);
    const ackWithBranch = (branch: string) =>
      formatRequest("ACK", `sip:201@${pbxSpec.address}`, [
        ["Via", `SIP/2.0/UDP 198.18.66.9:5060;branch=${branch}`],
        ["From", `"201" <sip:201@${pbxSpec.address}>;tag=1`],
        ["To", `"201" <sip:201@${pbxSpec.address}>`],
        ["Call-ID", "call-201"],
        ["CSeq", "1 ACK"],
      ]);
    const still = replies.slice(1, -1);
    expect(still.every((reply) => reply.unlessAcknowledged?.() === false)).toBe(true);
    // Another transaction's ACK changes nothing; the ACK of a non-2xx answer carries its INVITE's branch and ends it.
    pbx.receive({ src: "198.18.66.9", sport: 5060, dst: pbxSpec.address, dport: 5060, payload: ackWithBranch("z9hG4bK-other") }, 1_200_000);
    expect(still.some((reply) => reply.unlessAcknowledged!())).toBe(false);
    expect(pbx.receive({ src: "198.18.66.9", sport: 5060, dst: pbxSpec.address, dport: 5060, payload: ackWithBranch("z9hG4bK-201INVITE1") }, 1_300_000)).toEqual([]);
    expect(still.every((reply) => reply.unlessAcknowledged!())).toBe(true);
    // A REGISTER's answer is sent once: its client retransmits, not the PBX.
    expect(pbx.receive(request("REGISTER", "202", "198.18.66.9"), 2_000_000)).toHaveLength(1);
  });
});

describe("fail2ban's jail", () => {
  const jailOf = () => {
    const bans: Array<[string, number]> = [];
    return { jail: new Fail2banJail({ ...stockAsteriskJail, maxretry: 3, findtimeSeconds: 10, bantimeSeconds: 60 }, (address, atUs) => bans.push([address, atUs])), bans };
  };

  it("bans an address at its maxretry-th failure within findtime, the ban reaching the kernel banDelayUs later", () => {
    const { jail, bans } = jailOf();
    for (const second of [0, 1, 2]) jail.failure("198.18.66.6", second * 1_000_000);
    expect(bans).toEqual([["198.18.66.6", 2_450_000]]);
    // During the ban its lines add nothing; another address counts on its own.
    for (const second of [3, 4, 5, 6]) jail.failure("198.18.66.6", second * 1_000_000);
    jail.failure("198.18.66.7", 4_000_000);
    expect(bans).toHaveLength(1);
  });

  it("forgets failures older than findtime, and counts afresh after a ban ends", () => {
    const { jail, bans } = jailOf();
    for (const second of [0, 1, 11, 12]) jail.failure("198.18.66.6", second * 1_000_000);
    expect(bans).toEqual([]);
    jail.failure("198.18.66.6", 13_000_000);
    expect(bans).toEqual([["198.18.66.6", 13_450_000]]);
    for (const second of [75, 76, 77]) jail.failure("198.18.66.6", second * 1_000_000);
    expect(bans).toEqual([["198.18.66.6", 13_450_000], ["198.18.66.6", 77_450_000]]);
  });
});

describe("fail2ban as a defence in a model run", () => {
  it("register-flood's svwar: banned the measured delay after its 10th logged request; the phone that later gets its address is rejected for the ban's 10 minutes", () => {
    const scenario = scenarioWithDefence(loadScenario(resolveScenarioRef("register-flood"), null), "fail2ban");
    const result = runModel(scenario);
    const scanner = result.verdicts.filter((verdict) => verdict.source === "svwar" && verdict.direction === "to-pbx");
    const firstDrop = scanner.findIndex((verdict) => verdict.verdict === "dropped");
    const ban = result.fail2ban!.bans.find((entry) => entry.address === "198.18.66.6")!;
    expect(ban.atUs - scanner[9]!.atUs).toBe(stockAsteriskJail.banDelayUs);
    expect(scanner[firstDrop]!.atUs).toBeGreaterThanOrEqual(ban.atUs);
    expect(scanner[firstDrop - 1]!.atUs).toBeLessThan(ban.atUs);
    expect(scanner.slice(firstDrop).every((verdict) => verdict.verdict === "dropped")).toBe(true);
    expect(result.verdicts.filter((verdict) => verdict.source === "returning-phone" && verdict.direction === "to-pbx").every((verdict) => verdict.verdict === "dropped")).toBe(true);
    expect(result.asteriskLogLines).toBeGreaterThanOrEqual(10);
  });

  it("beside an nftables ruleset bans through fail2ban's nftables action: its own table, a set and a reject rule per protocol, at input priority -1", () => {
    const office = loadScenario(resolveScenarioRef("examples/nftables/office.yaml"), null);
    const { firewall, jail } = fail2banFirewall(office, stockAsteriskJail);
    expect(jail.banAction).toBe("nftables");
    expect(firewall.kind === "ruleset" && firewall.text).toMatch(
      /table inet f2b-table \{\n\tset addr-set-asterisk-tcp \{\n\t\ttype ipv4_addr\n\t\}\n\tset addr-set-asterisk-udp \{[\s\S]*chain f2b-chain \{\n\t\ttype filter hook input priority -1; policy accept;\n\t\ttcp dport \{ 5060, 5061 \} ip saddr @addr-set-asterisk-tcp reject comment "fail2ban: banned by the asterisk jail"\n\t\tudp dport \{ 5060, 5061 \} ip saddr @addr-set-asterisk-udp reject/,
    );
    // Walkers past an nftables firewall that accepts everything: each banned, then rejected by the action's udp rule.
    const result = runModel(loadScenario("test/fixtures/fail2ban/walkers-nft.yaml", null));
    expect(result.fail2ban!.sets).toEqual(["addr-set-asterisk-tcp", "addr-set-asterisk-udp"]);
    expect(new Set(result.fail2ban!.bans.map((ban) => ban.address)).size).toBe(12);
    for (const ban of result.fail2ban!.bans) {
      const after = result.verdicts.filter((verdict) => verdict.direction === "to-pbx" && verdict.srcAddr === ban.address && verdict.atUs >= ban.atUs);
      expect(after.length).toBeGreaterThan(0);
      expect(after.every((verdict) => verdict.verdict === "dropped" && verdict.rule.chain === "inet f2b-table f2b-chain" && verdict.rule.index === 2)).toBe(true);
    }
    // A ruleset that has fail2ban's table already is refused: which table would the jail fill?
    const own = { ...office, firewall: { kind: "ruleset" as const, path: "own.nft", text: "table inet f2b-table {\n}\n" } };
    expect(() => fail2banFirewall(own, stockAsteriskJail)).toThrow(/has a table inet f2b-table already/);
  });
});
