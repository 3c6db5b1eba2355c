import { describe, expect, it } from "vitest";
import { runModel } from "../../src/engines/model/model-engine.js";
import { formatResponse, parseSip } from "../../src/sip/sip-message.js";
import { createTrafficSources } from "../../src/traffic/create-traffic-sources.js";
import { openCapture } from "../../src/capture/read-capture.js";
import type { AgentContext } from "../../src/traffic/agent.js";
import { seededRandom } from "../../src/traffic/random.js";
import { attackOutcomes } from "../../src/verdict/attack-outcome.js";
import { computeOutcomes } from "../../src/verdict/outcomes.js";
import { acceptAll, dropFrom, scenarioOf } from "../helpers/scenario.js";

const pbx = { accounts: [{ users: "200-299", password: "pw-{user}" }] };
const home = { home: { kind: "addresses", addresses: ["198.18.1.1"] } };
const toPbx = (result: ReturnType<typeof runModel>, source: string) => result.verdicts.filter((v) => v.source === source && v.direction === "to-pbx");

describe("phones", () => {
  it("register with a challenge round: REGISTER, 401, REGISTER with credentials, 200", () => {
    const result = runModel(
      scenarioOf({ name: "t", description: "t", durationSeconds: 10, pbx, hosts: home, traffic: [{ name: "p", kind: "phones", host: "home", accounts: "200-200" }] }, { rulesetText: acceptAll }),
    );
    expect(result.verdicts.map((v) => v.sipMethod)).toEqual(["REGISTER", "401", "REGISTER", "200"]);
    expect(result.events).toMatchObject([{ kind: "registered", agent: "phone-001", account: "200" }]);
  });

  it("retransmit an unanswered REGISTER on RFC 3261 Timer E (0.5, 1, 2, 4, 4 ... s) and give up at Timer F (32 s)", () => {
    const result = runModel(
      scenarioOf({ name: "t", description: "t", durationSeconds: 40, pbx, hosts: home, traffic: [{ name: "p", kind: "phones", host: "home", accounts: "200-200", startSeconds: 1 }] }, { rulesetText: dropFrom("198.18.1.1") }),
    );
    const times = toPbx(result, "p").map((v) => v.atUs / 1_000_000 - 1);
    expect(times).toEqual([0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]);
    expect(result.events).toMatchObject([{ kind: "timeout", atUs: 33_000_000 }]);
  });

  it("refresh before the registration expires", () => {
    const result = runModel(
      scenarioOf(
        { name: "t", description: "t", durationSeconds: 300, pbx, hosts: home, traffic: [{ name: "p", kind: "phones", host: "home", accounts: "200-200", expiresSeconds: 120 }] },
        { rulesetText: acceptAll },
      ),
    );
    const registered = result.events.filter((event) => event.kind === "registered").map((event) => Math.round(event.atUs / 1_000_000));
    // Asterisk grants 3600 but its Contact says 119 s left; phones refresh at 90% of that.
    expect(registered).toEqual([0, 107, 214]);
  });
});

describe("broken phone", () => {
  it("sends two REGISTERs per attempt (bare, then wrong credentials) every interval, and never registers", () => {
    const result = runModel(
      scenarioOf(
        { name: "t", description: "t", durationSeconds: 10, pbx, hosts: home, traffic: [{ name: "b", kind: "broken-phone", host: "home", account: "201", intervalSeconds: 0.5, durationSeconds: 5 }] },
        { rulesetText: acceptAll },
      ),
    );
    const requests = toPbx(result, "b");
    expect(requests.length).toBeGreaterThanOrEqual(18);
    expect(requests.length).toBeLessThanOrEqual(22);
    expect(result.events.every((event) => event.kind === "unauthorized")).toBe(true);
    // Two per attempt: the rate is about 2 / 0.5 s, i.e. 4 REGISTERs a second while answered.
    const lastSecond = requests.filter((v) => v.atUs >= 4_000_000 && v.atUs < 5_000_000);
    expect(lastSecond.length).toBe(4);
  });
});

describe("register floods (sipvicious)", () => {
  const flood = (overrides: Record<string, unknown>) =>
    runModel(
      scenarioOf(
        {
          name: "t",
          description: "t",
          durationSeconds: 20,
          pbx,
          hosts: { bots: { kind: "range", cidr: "198.19.0.0/24", count: 3 } },
          traffic: [{ name: "f", kind: "register-flood", host: "bots", ratePps: 10, durationSeconds: 2, onAnswerLikeRandom: "walk-on", ...overrides }],
        },
        { rulesetText: acceptAll },
      ),
    );

  it("svwar walks extensions with bare REGISTERs from port 5060, as friendly-scanner", () => {
    const result = flood({ mode: "svwar", extensions: "100-999" });
    const first = toPbx(result, "f").filter((v) => v.srcAddr === "198.19.0.1");
    expect(first).toHaveLength(20);
    expect(new Set(first.map((v) => v.srcPort))).toEqual(new Set([5060]));
    const bytes = runModel(
      scenarioOf(
        { name: "t", description: "t", durationSeconds: 5, pbx, hosts: home, traffic: [{ name: "f", kind: "register-flood", host: "home", ratePps: 5, durationSeconds: 1, onAnswerLikeRandom: "walk-on" }] },
        { rulesetText: acceptAll },
      ),
      { keepPackets: true },
    );
    const requests = bytes.verdicts.filter((v) => v.direction === "to-pbx").map((v) => parseSip(bytes.packets![v.packetId]!.subarray(28))!);
    // Its first request asks for a random extension (what an unknown one gets); the walk starts once it is answered.
    expect(requests[0]!.toUser).toMatch(/^\d+$/);
    expect(requests.slice(1).map((r) => r.toUser)).toEqual(["100", "101", "102", "103"]);
    expect(requests[0]!.header("user-agent")).toBe("friendly-scanner");
    expect(requests[0]!.header("authorization")).toBeUndefined();
  });

  it("svcrack answers each challenge with the next password guess", () => {
    const result = runModel(
      scenarioOf(
        { name: "t", description: "t", durationSeconds: 5, pbx, hosts: home, traffic: [{ name: "c", kind: "register-flood", host: "home", mode: "svcrack", ratePps: 5, durationSeconds: 1, extensions: "200-200" }] },
        { rulesetText: acceptAll },
      ),
      { keepPackets: true },
    );
    const requests = result.verdicts.filter((v) => v.direction === "to-pbx").map((v) => parseSip(result.packets![v.packetId]!.subarray(28))!);
    expect(requests[0]!.header("authorization")).toBeUndefined();
    expect(requests.slice(1).every((request) => /username="200"/.test(request.header("authorization") ?? ""))).toBe(true);
  });

  it("svcrack answers each challenge once: a guess the firewall dropped gets no 401, so its next request is a bare REGISTER that fetches a new challenge (svcrack.py pops its challenges)", () => {
    const limit = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A INPUT -p udp --dport 5060 -m hashlimit --hashlimit-above 10/second --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name sip -j DROP\nCOMMIT\n";
    const result = runModel(
      scenarioOf(
        { name: "t", description: "t", durationSeconds: 4, pbx, hosts: home, traffic: [{ name: "c", kind: "register-flood", host: "home", mode: "svcrack", ratePps: 180, durationSeconds: 3, extensions: "200-200" }] },
        { rulesetText: limit },
      ),
      { keepPackets: true },
    );
    const requests = toPbx(result, "c").map((v) => parseSip(result.packets![v.packetId]!.subarray(28))!);
    const guesses = requests.filter((request) => request.header("authorization") !== undefined).length;
    const challenges = result.verdicts.filter((v) => v.source === "c" && v.direction === "from-pbx" && v.sipMethod === "401").length;
    expect(requests.length).toBeGreaterThan(500);
    // One guess per challenge that came back (the last may still be unanswered when the run ends), the rest bare.
    expect(guesses).toBeGreaterThanOrEqual(challenges - 1);
    expect(guesses).toBeLessThanOrEqual(challenges);
    expect(guesses).toBeLessThan(requests.length / 10);
  });

  it("a bot that never gives up (giveUpSeconds 0) answers its last challenge again with every request", () => {
    const result = runModel(
      scenarioOf(
        { name: "t", description: "t", durationSeconds: 3, pbx, hosts: home, traffic: [{ name: "c", kind: "register-flood", host: "home", mode: "svcrack", ratePps: 20, durationSeconds: 2, extensions: "200-200", giveUpSeconds: 0 }] },
        { rulesetText: acceptAll },
      ),
      { keepPackets: true },
    );
    const requests = toPbx(result, "c").map((v) => parseSip(result.packets![v.packetId]!.subarray(28))!);
    expect(requests[0]!.header("authorization")).toBeUndefined();
    expect(requests.slice(1).every((request) => request.header("authorization") !== undefined)).toBe(true);
  });

  it("a password guesser that hits the password registers: the model does not pretend attacks fail", () => {
    const result = runModel(
      scenarioOf(
        {
          name: "t",
          description: "t",
          durationSeconds: 5,
          pbx: { accounts: [{ users: "200-200", password: "admin" }] },
          hosts: home,
          traffic: [{ name: "c", kind: "register-flood", host: "home", mode: "svcrack", ratePps: 5, durationSeconds: 2, extensions: "200-200" }],
        },
        { rulesetText: acceptAll },
      ),
    );
    expect(result.events).toMatchObject([{ kind: "registered", account: "200" }, { kind: "password-found", account: "200", detail: 'password "admin", its guess 4 from 198.18.1.1' }]);
  });

  it("an INVITE guesser calls its number as the account, ACKs every final answer in its transaction, and its call reaches the dialplan at the right guess", () => {
    const result = runModel(
      scenarioOf(
        {
          name: "t",
          description: "t",
          durationSeconds: 5,
          pbx: { accounts: [{ users: "200-200", password: "admin" }] },
          hosts: home,
          traffic: [{ name: "c", kind: "register-flood", host: "home", mode: "svcrack", method: "INVITE", callTo: "0090123456", ratePps: 5, durationSeconds: 3, extensions: "200-200" }],
        },
        { rulesetText: acceptAll },
      ),
      { keepPackets: true },
    );
    const sent = result.verdicts.filter((v) => v.direction === "to-pbx").map((v) => parseSip(result.packets![v.packetId]!.subarray(28))!);
    const invites = sent.filter((message) => message.method === "INVITE");
    // A bare INVITE for the challenge, then guesses 1234, password, 100, admin: the fourth is taken.
    expect(invites).toHaveLength(5);
    expect(invites.every((invite) => invite.requestUri === "sip:0090123456@198.51.100.10" && invite.fromUser === "200")).toBe(true);
    expect(invites.slice(1).every((invite) => /username="200", realm="asterisk", nonce="[^"]+", uri="sip:0090123456@198\.51\.100\.10"/.test(invite.header("authorization") ?? ""))).toBe(true);
    // Each final answer (four 401s and the dialplan's 404, no 100 Trying before it, as Asterisk 22 answers) is ACKed on the INVITE's branch.
    const acks = sent.filter((message) => message.method === "ACK");
    expect(acks).toHaveLength(5);
    for (const ack of acks) {
      const invite = invites.find((candidate) => candidate.cseq === ack.cseq)!;
      expect(ack.viaBranch).toBe(invite.viaBranch);
      expect(ack.header("to")).toMatch(/;tag=/);
    }
    const answers = result.verdicts.filter((v) => v.direction === "from-pbx").map((v) => parseSip(result.packets![v.packetId]!.subarray(28))!);
    expect(answers.map((answer) => answer.status)).toEqual([401, 401, 401, 401, 404]);
    expect(result.events).toMatchObject([
      { kind: "password-found", account: "200", detail: 'password "admin", its guess 4 from 198.18.1.1' },
      { kind: "call-reached", account: "200", detail: '"404 Not Found" to its call to 0090123456 as 200' },
    ]);
    // The dialplan's refusal of the number is a line fail2ban reads, beside the three failed guesses.
    expect(result.asteriskLogLines).toBe(4);
  });

  it("svcrack's first guess is its dictionary's first word, and N addresses share the dictionary from its start", () => {
    const crack = (password: string, hosts: Record<string, unknown>) =>
      runModel(
        scenarioOf(
          {
            name: "t",
            description: "t",
            durationSeconds: 5,
            pbx: { accounts: [{ users: "200-200", password }] },
            hosts,
            traffic: [{ name: "c", kind: "register-flood", host: Object.keys(hosts)[0], mode: "svcrack", ratePps: 5, durationSeconds: 2, extensions: "200-200" }],
          },
          { rulesetText: acceptAll },
        ),
      );
    // The default dictionary starts 1234, password, 100: the second request (the first with credentials) guesses 1234.
    const alone = crack("1234", home);
    expect(alone.events).toMatchObject([{ kind: "registered", account: "200" }, { kind: "password-found", detail: 'password "1234", its guess 1 from 198.18.1.1' }]);
    expect(toPbx(alone, "c").filter((v) => v.sipMethod === "REGISTER")).toHaveLength(2);
    // Three addresses take the first three words between them, one each on their first guess.
    const three = crack("100", { bots: { kind: "addresses", addresses: ["198.18.1.1", "198.18.1.2", "198.18.1.3"] } });
    expect(three.events).toMatchObject([{ kind: "registered", agent: "198.18.1.3", account: "200" }, { kind: "password-found", detail: 'password "100", its guess 1 from 198.18.1.3' }]);
    expect(toPbx(three, "c").filter((v) => v.srcAddr === "198.18.1.3")).toHaveLength(2);
  });

  it("svwar confirms an extension whose answer differs from a random extension's, and none against Asterisk, which answers both alike", () => {
    // A registrar that gives itself away (chan_sip with alwaysauthreject=no): 404 for an unknown user, 401 for 200 to 202.
    const scenario = scenarioOf(
      { name: "t", description: "t", durationSeconds: 5, pbx, hosts: home, traffic: [{ name: "w", kind: "register-flood", host: "home", mode: "svwar", ratePps: 20, durationSeconds: 1, extensions: "198-205" }] },
      { rulesetText: acceptAll },
    );
    const [walker] = createTrafficSources(scenario);
    const queue: Array<{ atUs: number; action: () => void }> = [];
    const events: Array<{ kind: string; account?: string; detail?: string }> = [];
    let now = 0;
    const context: AgentContext = {
      now: () => now,
      random: seededRandom(1),
      at: (atUs, action) => queue.push({ atUs, action }),
      record: (event) => events.push(event),
      send: (_agent, datagram) => {
        const request = parseSip(datagram.payload)!;
        const user = /sip:(\d+)@/.exec(request.kind === "request" ? request.requestUri : "")![1]!;
        const [status, reason] = ["200", "201", "202"].includes(user) ? [401, "Unauthorized"] : [404, "Not Found"];
        const answer = formatResponse(status, reason, [["Via", request.header("via")!], ["From", request.header("from")!], ["To", request.header("to")!], ["Call-ID", request.header("call-id")!], ["CSeq", request.header("cseq")!]]);
        queue.push({ atUs: now + 1000, action: () => walker!.receive({ src: datagram.dst, sport: datagram.dport, dst: datagram.src, dport: datagram.sport, payload: answer }, context) });
      },
    };
    walker!.start(context);
    while (queue.length) {
      queue.sort((a, b) => a.atUs - b.atUs);
      const next = queue.shift()!;
      now = next.atUs;
      next.action();
    }
    expect(events.filter((event) => event.kind === "extension-found").map((event) => event.account)).toEqual(["200", "201", "202"]);
    expect(events.find((event) => event.kind === "extension-found")!.detail).toBe('"401 Unauthorized" where a random extension got "404 Not Found"');

    const againstAsterisk = runModel(scenario);
    expect(againstAsterisk.events.filter((event) => event.kind === "extension-found")).toEqual([]);
    // As the lab recorded real svwar against Asterisk 22 (captures/lab-svwar-asterisk22.pcap): the random extension's 401, then the first extension's, and it stops.
    expect(toPbx(againstAsterisk, "w")).toHaveLength(2);
    expect(againstAsterisk.events).toMatchObject([{ kind: "gave-up", detail: 'svwar from 198.18.1.1 stopped after 2 requests: its answer for 198 was a random extension\'s ("401 Unauthorized"), which svwar calls an unknown response' }]);
    const walkingOn = runModel({ ...scenario, traffic: scenario.traffic.map((spec) => ({ ...spec, onAnswerLikeRandom: "walk-on" as const })) });
    // A bot walks on to the end of its range: the random extension, then 198 to 205.
    expect(toPbx(walkingOn, "w")).toHaveLength(9);
  });

  it("real svwar sent two REGISTERs against Asterisk 22 in the lab, as the model's svwar does", async () => {
    let registers = 0;
    for await (const frame of await openCapture("captures/lab-svwar-asterisk22.pcap")) if (Buffer.from(frame.data).includes("REGISTER sip:")) registers++;
    const result = runModel(scenarioOf({ name: "t", description: "t", durationSeconds: 20, pbx, hosts: home, traffic: [{ name: "w", kind: "register-flood", host: "home", mode: "svwar", ratePps: 50, durationSeconds: 10, extensions: "100-299" }] }, { rulesetText: acceptAll }));
    expect(toPbx(result, "w").filter((verdict) => verdict.sipMethod === "REGISTER")).toHaveLength(registers);
    expect(registers).toBe(2);
  });

  it("as sipvicious, waits for the answer to its first request and gives up without one (svcrack 10 s, svwar 3 s)", () => {
    for (const [mode, seconds] of [["svcrack", 10], ["svwar", 3]] as const) {
      const result = runModel(
        scenarioOf(
          { name: "t", description: "t", durationSeconds: 60, pbx, hosts: home, traffic: [{ name: "f", kind: "register-flood", host: "home", mode, ratePps: 10, durationSeconds: 50, extensions: "200-299" }] },
          { rulesetText: dropFrom("198.18.1.1") },
        ),
      );
      expect(toPbx(result, "f")).toHaveLength(1);
      expect(result.events).toMatchObject([{ kind: "gave-up", atUs: seconds * 1_000_000, detail: `${mode} from 198.18.1.1 stopped after 1 request: no answer to its first request within ${seconds} s` }]);
    }
  });

  it("stops once it has heard nothing for giveUpSeconds (--maximumtime, 10 s), and a bot with 0 floods on", () => {
    // Five REGISTERs from a source get through; every later one is dropped, so no answer comes back.
    const fiveThenDrop = [
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":FORWARD ACCEPT [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      "-A INPUT -p udp --dport 5060 -m recent --name F --rcheck --hitcount 5 --seconds 3600 -j DROP",
      "-A INPUT -p udp --dport 5060 -m recent --name F --set",
      "COMMIT",
      "",
    ].join("\n");
    const run = (giveUpSeconds?: number) =>
      runModel(
        scenarioOf(
          { name: "t", description: "t", durationSeconds: 60, pbx, hosts: home, traffic: [{ name: "f", kind: "register-flood", host: "home", ratePps: 5, durationSeconds: 50, onAnswerLikeRandom: "walk-on", ...(giveUpSeconds === undefined ? {} : { giveUpSeconds }) }] },
          { rulesetText: fiveThenDrop },
        ),
      );
    const sipvicious = run();
    const sent = toPbx(sipvicious, "f");
    expect(sent.filter((v) => v.verdict === "delivered")).toHaveLength(5);
    // The flood paces from the first answer (a millisecond in); the last answer comes just after 0.8 s, so the send due at 11 s is not made.
    const [gaveUp] = sipvicious.events.filter((event) => event.kind === "gave-up");
    expect(gaveUp!.atUs).toBeGreaterThan(10_800_000);
    expect(gaveUp!.atUs).toBeLessThan(11_010_000);
    expect(gaveUp!.detail).toBe(`svwar from 198.18.1.1 stopped after ${sent.length} requests: no answer for 10 s`);
    expect(sent.length).toBe(55);
    const patient = run(30);
    expect(toPbx(patient, "f").length).toBe(155);
    const bot = run(0);
    expect(toPbx(bot, "f")).toHaveLength(250);
    expect(bot.events.filter((event) => event.kind === "gave-up")).toEqual([]);
  });

  it("random source ports change per request; every bot has its own phase", () => {
    const result = flood({ sourcePort: "random" });
    const ports = toPbx(result, "f").map((v) => v.srcPort);
    expect(new Set(ports).size).toBeGreaterThan(50);
    const firstTimes = ["198.19.0.1", "198.19.0.2", "198.19.0.3"].map((a) => toPbx(result, "f").find((v) => v.srcAddr === a)!.atUs);
    expect(new Set(firstTimes).size).toBe(3);
  });

  it("is deterministic per seed, and another seed draws other ports", () => {
    const scenario = scenarioOf(
      { name: "t", description: "t", durationSeconds: 5, pbx, hosts: home, traffic: [{ name: "f", kind: "register-flood", host: "home", ratePps: 5, durationSeconds: 1, sourcePort: "random", onAnswerLikeRandom: "walk-on" }] },
      { rulesetText: acceptAll },
    );
    const ports = (seed: number) => runModel(scenario, { seed }).verdicts.map((v) => v.srcPort);
    expect(ports(1)).toEqual(ports(1));
    expect(ports(2)).not.toEqual(ports(1));
  });
});

describe("roaming user and BLF phone", () => {
  it("the roaming user registers again from each new address", () => {
    const result = runModel(
      scenarioOf(
        {
          name: "t",
          description: "t",
          durationSeconds: 100,
          pbx: { accounts: [{ users: ["alice"], password: "a" }] },
          hosts: { road: { kind: "addresses", addresses: ["198.18.30.1", "198.18.31.1"] } },
          traffic: [{ name: "alice", kind: "roaming-user", host: "road", account: "alice", moveEverySeconds: 40, expiresSeconds: 600 }],
        },
        { rulesetText: acceptAll },
      ),
    );
    const requests = toPbx(result, "alice");
    expect([...new Set(requests.map((v) => v.srcAddr))]).toEqual(["198.18.30.1", "198.18.31.1"]);
    expect(result.events.filter((event) => event.kind === "registered")).toHaveLength(3);
  });

  it("the BLF phone subscribes every key after registering and answers the NOTIFYs", () => {
    const result = runModel(
      scenarioOf(
        { name: "t", description: "t", durationSeconds: 10, pbx, hosts: home, traffic: [{ name: "blf", kind: "blf-subscribe", host: "home", account: "200", keys: 5, watch: "201-205" }] },
        { rulesetText: acceptAll },
      ),
    );
    const methods = toPbx(result, "blf").map((v) => v.sipMethod);
    expect(methods.filter((m) => m === "SUBSCRIBE")).toHaveLength(10);
    expect(methods.filter((m) => m === "200")).toHaveLength(5);
    expect(result.events.filter((event) => event.kind === "subscribed")).toHaveLength(5);
  });
});

describe("real tools", () => {
  const tool = (traffic: Record<string, unknown>, rulesetText = acceptAll, durationSeconds = 5) =>
    runModel(scenarioOf({ name: "t", description: "t", durationSeconds, pbx, hosts: home, traffic: [{ name: "tool", kind: "tool", host: "home", ...traffic }] }, { rulesetText }), { keepPackets: true });
  const guessesOf = (result: ReturnType<typeof runModel>) =>
    toPbx(result, "tool").flatMap((v) => {
      const authorization = parseSip(result.packets![v.packetId]!.subarray(28))!.header("authorization");
      return authorization ? [authorization] : [];
    });

  it("run on the model engine as their twin: svcrack from 5060 at sipvicious's pace, its range in order from the first number, until it finds the password", () => {
    const found = runModel(
      scenarioOf({ name: "t", description: "t", durationSeconds: 5, pbx: { accounts: [{ users: "200-200", password: "1003" }] }, hosts: home, traffic: [{ name: "tool", kind: "tool", host: "home", tool: "svcrack", target: "200", passwords: "1000-1099" }] }, { rulesetText: acceptAll }),
    );
    expect(found.events.find((event) => event.kind === "password-found")).toMatchObject({ account: "200", detail: expect.stringContaining('password "1003", its guess 4 ') });
    expect(new Set(toPbx(found, "tool").map((v) => `${v.srcAddr}:${v.srcPort}`))).toEqual(new Set(["198.18.1.1:5060"]));
    // A bare REGISTER, then the guesses 1000 to 1003, each answering the 401 before it.
    expect(toPbx(found, "tool")).toHaveLength(5);
  });

  it("are named as what ran: the real tool in the lab, its twin in the model", () => {
    const scenario = scenarioOf({ name: "t", description: "t", durationSeconds: 5, pbx, hosts: home, traffic: [{ name: "tool", kind: "tool", host: "home", tool: "svcrack", target: "200" }] }, { rulesetText: acceptAll });
    const result = runModel(scenario);
    expect(attackOutcomes(scenario, computeOutcomes(result), result.securityEvents, result.engine)[0]!.tool).toBe("svcrack's twin");
    expect(attackOutcomes(scenario, computeOutcomes(result), result.securityEvents, "docker")[0]!.tool).toBe("real svcrack");
  });

  it("svcrack's twin stops at its range's end, as its generator does, at about 185 requests a second", () => {
    const result = tool({ tool: "svcrack", target: "200", passwords: "1000-1099" });
    const sent = toPbx(result, "tool");
    expect(guessesOf(result)).toHaveLength(100);
    expect(sent).toHaveLength(101);
    const perSecond = (sent.length - 1) / ((sent.at(-1)!.atUs - sent[0]!.atUs) / 1e6);
    expect(perSecond).toBeGreaterThan(170);
    expect(perSecond).toBeLessThan(200);
    expect(result.events.find((event) => event.kind === "gave-up")?.detail).toContain("it tried every password of its range (100 guesses)");
  });

  it("svwar's twin stops at the first extension answered as a random one was (PJSIP answers every user 401), as sipvicious 0.3.3 does", () => {
    const result = tool({ tool: "svwar", target: "200-299" });
    expect(toPbx(result, "tool")).toHaveLength(2);
    expect(result.events.find((event) => event.kind === "gave-up")?.detail).toContain("unknown response");
  });

  it("sipp-register's twin registers its account with the password it is given, and fails with a wrong one", () => {
    expect(tool({ tool: "sipp-register", target: "200", password: "pw-200" }).events.filter((event) => event.kind === "registered")).toHaveLength(1);
    expect(tool({ tool: "sipp-register", target: "200", password: "wrong" }).events.filter((event) => event.kind === "registered")).toHaveLength(0);
  });

  it("svcrack sends from 5060, its default, unless another source on its lab machine binds 5060 (sipvicious binds every address); svwar and SIPp take ports of their own", () => {
    const hosts = {
      scanner: { kind: "addresses", addresses: ["198.18.66.6"] },
      other: { kind: "addresses", addresses: ["198.18.66.7"] },
      office: { kind: "nat", public: "198.18.30.1", lan: "192.0.2.0/24" },
    };
    const portsOf = (traffic: Array<Record<string, unknown>>) =>
      Object.fromEntries(
        createTrafficSources(scenarioOf({ name: "t", description: "t", durationSeconds: 5, pbx, hosts, traffic }, { rulesetText: acceptAll }), new Map(), { tools: "placeholders" }).map((source) => [
          source.name,
          source.agents.map((endpoint) => `${endpoint.address}:${endpoint.port}`).join(" "),
        ]),
      );
    const crack = { name: "crack", kind: "tool", tool: "svcrack", host: "scanner", target: "200" };
    expect(portsOf([crack, { name: "walk", kind: "tool", tool: "svwar", host: "other", target: "200-210" }])).toEqual({ crack: "198.18.66.6:5060", walk: "198.18.66.7:5070" });
    // A phone on any address outside a NAT office holds 5060 on the machine they share, whichever comes first in the list.
    expect(portsOf([crack, { name: "phone", kind: "phones", host: "other", accounts: "201-201" }, { ...crack, name: "crack-2", host: "other" }])).toEqual({
      crack: "198.18.66.6:5070",
      phone: "198.18.66.7:5060",
      "crack-2": "198.18.66.7:5071",
    });
    // Phones behind a NAT office run on the office's own machine.
    expect(portsOf([{ name: "desk", kind: "phones", host: "office", count: 2, accounts: "202-203" }, crack])).toMatchObject({ crack: "198.18.66.6:5060" });
  });
});

describe("one SIPp process registering an office (sipp-office)", () => {
  const office = (traffic: Record<string, unknown>, rulesetText = acceptAll, durationSeconds = 40) =>
    runModel(scenarioOf({ name: "t", description: "t", durationSeconds, pbx, hosts: home, traffic: [{ name: "sipp", kind: "sipp-office", host: "home", accounts: "200-209", ...traffic }] }, { rulesetText }), { keepPackets: true });

  it("opens a call per account at its rate from one socket (-t u1): REGISTER, 401, REGISTER with credentials, 200, and the call ends", () => {
    const result = office({ ratePps: 5 });
    const sent = toPbx(result, "sipp");
    expect(sent).toHaveLength(20);
    expect(new Set(sent.map((v) => `${v.srcAddr}:${v.srcPort}`))).toEqual(new Set(["198.18.1.1:5060"]));
    // Call i starts i/5 s in; each is its own Call-ID, answered with its own account's credentials.
    const firsts = sent.filter((v) => /^1 REGISTER/m.test(parseSip(result.packets![v.packetId]!.subarray(28))!.header("cseq") ?? ""));
    expect(firsts.map((v) => v.atUs)).toEqual(Array.from({ length: 10 }, (_, i) => i * 200_000));
    const registered = result.events.filter((event) => event.kind === "registered");
    expect(registered.map((event) => event.account)).toEqual(Array.from({ length: 10 }, (_, i) => String(200 + i)));
    expect(new Set(registered.map((event) => event.agent)).size).toBe(10);
    const requests = sent.map((v) => parseSip(result.packets![v.packetId]!.subarray(28))!);
    expect(requests.every((request) => request.header("user-agent") === "SIPp")).toBe(true);
    expect(new Set(requests.map((request) => request.callId)).size).toBe(10);
  });

  it("-t un: a socket, so a source port from the ephemeral range, per call", () => {
    const sent = toPbx(office({ ratePps: 10, transport: "un" }), "sipp");
    const ports = [...new Set(sent.map((v) => v.srcPort))];
    expect(ports).toHaveLength(10);
    expect(ports.every((port) => port >= 32768 && port <= 60999)).toBe(true);
  });

  it("retransmits as SIPp does over UDP (500 ms doubling to T2, 4 s) and gives the call up after 9 retransmissions, 31.5 s in", () => {
    const result = office({ accounts: "200-200", ratePps: 1 }, dropFrom("198.18.1.1"));
    expect(toPbx(result, "sipp").map((v) => v.atUs / 1000)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500]);
    expect(result.events).toMatchObject([{ kind: "timeout", atUs: 31_500_000, account: "200" }]);
  });

  it("keeps at most -l calls open: a new call waits for one to end", () => {
    const result = office({ ratePps: 100, limit: 2 }, dropFrom("198.18.1.1"), 40);
    // Two calls open, both given up at 31.5 s (the second 10 ms later); the third then starts.
    const starts = [...new Set(toPbx(result, "sipp").map((v) => v.agent))];
    expect(starts).toEqual(["call-0001", "call-0002", "call-0003", "call-0004"]);
    expect(toPbx(result, "sipp").find((v) => v.agent === "call-0003")!.atUs).toBe(31_500_000);
  });
});
