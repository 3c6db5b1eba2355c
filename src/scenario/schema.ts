import { z } from "zod";
import { isCidr, isIpv4, parseCidr } from "../net/address.js";
import { ipv6CidrContains, parseIpv6Cidr } from "../net/ipv6-address.js";

/**
 * The scenario format. The loader parses YAML into these types once; every
 * later stage trusts them. Addresses must sit in the lab's documentation and
 * benchmarking ranges (DESIGN.md), so nothing a scenario sends can leave it.
 */

const LAB_RANGES = ["198.18.0.0/15", "192.0.2.0/24", "198.51.100.0/24"].map((text) => parseCidr(text));

/** IPv6's documentation prefix and its benchmarking one (RFC 3849, RFC 5180). */
const LAB_RANGES6 = ["2001:db8::/32", "2001:2::/48"].map((text) => parseIpv6Cidr(text));

export function inLabRange(address: string): boolean {
  if (address.includes(":")) return LAB_RANGES6.some((range) => ipv6CidrContains(range, parseIpv6Cidr(address)));
  const { network } = parseCidr(address);
  return LAB_RANGES.some((range) => ((network & range.mask) >>> 0) === range.network);
}

const isIpv6Address = (text: string) => text.includes(":") && !text.includes("/") && isIpv6Cidr(text);
const isIpv6Cidr = (text: string) => {
  try {
    parseIpv6Cidr(text);
    return true;
  } catch {
    return false;
  }
};

const labAddress6 = z
  .string()
  .refine(isIpv6Address, { message: "expected an IPv6 address such as 2001:db8:100::10", abort: true })
  .refine(inLabRange, { message: "lab IPv6 addresses must be in 2001:db8::/32 or 2001:2::/48" });

/** A host's address: IPv4 in the lab's ranges, or IPv6 in the documentation or benchmarking prefix. */
const labHostAddress = z.string().superRefine((text, context) => {
  if (text.includes(":")) {
    if (!isIpv6Address(text)) context.addIssue({ code: "custom", message: "expected an IPv4 address such as 198.18.0.10 or an IPv6 address such as 2001:db8:bad::1" });
    else if (!inLabRange(text)) context.addIssue({ code: "custom", message: "lab IPv6 addresses must be in 2001:db8::/32 or 2001:2::/48" });
  } else if (!isIpv4(text)) context.addIssue({ code: "custom", message: "expected an IPv4 address such as 198.18.0.10 or an IPv6 address such as 2001:db8:bad::1" });
  else if (!inLabRange(text)) context.addIssue({ code: "custom", message: "lab addresses must be in 198.18.0.0/15, 192.0.2.0/24 or 198.51.100.0/24" });
});

/** A range host's network: an IPv4 CIDR in the lab's ranges, or an IPv6 prefix in the documentation or benchmarking one. */
const labHostCidr = z.string().superRefine((text, context) => {
  if (text.includes(":")) {
    if (!/\/\d{1,3}$/.test(text) || !isIpv6Cidr(text)) context.addIssue({ code: "custom", message: "expected an IPv6 prefix such as 2001:db8:bad:1::/64" });
    else if (!inLabRange(text)) context.addIssue({ code: "custom", message: "lab IPv6 networks must be inside 2001:db8::/32 or 2001:2::/48" });
  } else if (!isCidr(text)) context.addIssue({ code: "custom", message: "expected a CIDR such as 198.19.0.0/16 or an IPv6 prefix such as 2001:db8:bad:1::/64" });
  else if (!inLabRange(text)) context.addIssue({ code: "custom", message: "lab networks must be inside 198.18.0.0/15, 192.0.2.0/24 or 198.51.100.0/24" });
});

const labAddress = z
  .string()
  .refine(isIpv4, { message: "expected an IPv4 address such as 198.18.0.10", abort: true })
  .refine(inLabRange, { message: "lab addresses must be in 198.18.0.0/15, 192.0.2.0/24 or 198.51.100.0/24" });

const labCidr = z
  .string()
  .refine(isCidr, { message: "expected a CIDR such as 198.19.0.0/16", abort: true })
  .refine(inLabRange, { message: "lab networks must be inside 198.18.0.0/15, 192.0.2.0/24 or 198.51.100.0/24" });

/** Any IPv4 network, as an admin's ruleset names it: the key side of firewall.addressMap. */
const realCidr = z.string().refine(isCidr, { message: "expected an address or CIDR such as 81.2.3.0/24" });

const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: "names are lowercase letters, digits and '-'" });
const seconds = z.number().min(0).max(86_400 * 7);
const positiveSeconds = z.number().gt(0).max(86_400 * 7);

/** "100-199" or ["alice", "bob"] */
export const userListSchema = z.union([
  z.string().regex(/^\d+-\d+$/, { message: 'expected a range such as "100-199"' }),
  z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/)).min(1),
]);

const accountSchema = z
  .object({
    users: userListSchema,
    /** `{user}` is replaced by the user name, so a range can have distinct passwords. */
    password: z.string().min(1).max(128).describe("`{user}` is replaced by the user name, so a range can have distinct passwords."),
  })
  .strict();

const pbxSchema = z
  .object({
    address: labAddress.default("198.51.100.10"),
    address6: labAddress6.optional().describe("The PBX's IPv6 address (inside 2001:db8::/32 or 2001:2::/48), which sources on IPv6 hosts send to; absent, the PBX has none."),
    port: z.number().int().min(1).max(65535).default(5060),
    iax2Port: z.number().int().min(1).max(65535).default(4569).describe("The UDP port chan_iax2 listens on for IAX2 (its bindport, 4569); the accounts are IAX2 peers too."),
    tlsPort: z.number().int().min(1).max(65535).default(5061).describe("The TCP port PJSIP listens on for SIP over TLS (its transport-tls, 5061); the lab makes it a certificate per run."),
    realm: z.string().regex(/^[A-Za-z0-9.-]{1,64}$/).default("asterisk"),
    interface: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,15}$/, { message: "an interface name of 1-15 letters, digits, '_', '.' or '-' (IFNAMSIZ), such as eth0 or ens3" })
      .refine((text) => text !== "lo", { message: "lo is the loopback interface; name the one the PBX's traffic arrives on" })
      .default("eth0")
      .describe("The interface the PBX's traffic arrives on and leaves by, as the ruleset's -i and -o name it (eth0 unless given)."),
    accounts: z.array(accountSchema).default([]),
  })
  .strict();

const hostSchema = z.discriminatedUnion("kind", [
  /** One or more public addresses used in turn (a roaming user) or all at once (an attack). */
  z.object({ kind: z.literal("addresses"), addresses: z.array(labHostAddress).min(1).max(65_536) }).strict(),
  /** `count` addresses taken in order from `cidr` (distributed attackers, or one attacker's IPv6 prefix). */
  z.object({ kind: z.literal("range"), cidr: labHostCidr, count: z.number().int().min(1).max(65_536) }).strict(),
  /** An office: phones on `lan` behind one masquerading public address. */
  z
    .object({
      kind: z.literal("nat"),
      public: labAddress,
      lan: labCidr,
      lan6: labHostCidr
        .refine((text) => text.includes(":") && Number(text.split("/")[1]) >= 48 && Number(text.split("/")[1]) <= 64, { message: "expected the office's IPv6 prefix, a /48 to /64 such as 2001:db8:600d:1::/64" })
        .optional()
        .describe("A dual-stack office's IPv6 prefix (a /48 to /64 inside 2001:db8::/32): phones with ipv6: true take global addresses in it and reach the PBX without NAT, while the office's IPv4 goes through the NAT."),
    })
    .strict(),
]);

const base = {
  name,
  host: name,
  startSeconds: seconds.default(0),
};

const phonesSource = z
  .object({
    ...base,
    kind: z.literal("phones"),
    count: z.number().int().min(1).max(10_000).default(1),
    /** Accounts used in order, one per phone. */
    accounts: userListSchema.describe("Accounts used in order, one per phone."),
    /** Phones start registering within this window (0 = all at once). */
    spreadSeconds: seconds.default(0).describe("Phones start registering within this window (0 = all at once)."),
    expiresSeconds: z.number().int().min(60).max(86_400).default(3600),
    /** A wrong password makes every phone fail (for tests). */
    wrongPassword: z.boolean().default(false).describe("A wrong password makes every phone fail (for tests)."),
    /** UDP, or TCP or TLS: each phone keeps a connection to the PBX and registers over it. */
    transport: z
      .enum(["udp", "tcp", "tls"])
      .default("udp")
      .describe("udp; tcp: each phone keeps one connection to the PBX from its port and registers over it (behind a NAT host, from the public port the NAT gives it); tls: the same over TLS to the PBX's tlsPort."),
    ipv6: z.boolean().default(false).describe("In a dual-stack NAT office (a host with lan6): the phones register over IPv6 from their own addresses in the office's prefix, to the PBX's address6, with no NAT."),
  })
  .strict();

const floodSource = z
  .object({
    ...base,
    kind: z.literal("register-flood"),
    /** svwar walks extensions without credentials; svcrack guesses passwords of one extension. */
    mode: z.enum(["svwar", "svcrack"]).default("svwar").describe("svwar walks extensions without credentials; svcrack guesses passwords of one extension."),
    /** Requests per second from each address (real svcrack's 5 ms select loop sends about 190 a second). */
    ratePps: z.number().gt(0).max(100_000).describe("Requests per second from each address (real svcrack's 5 ms select loop sends about 190 a second)."),
    durationSeconds: positiveSeconds,
    extensions: userListSchema.default("100-999"),
    /** Passwords tried by svcrack, in order, after which it counts numbers; one guess per 401 it got back, a bare REGISTER when none is pending. */
    passwords: z
      .array(z.string().min(1).max(64))
      .default(["1234", "password", "100", "admin", "12345"])
      .describe("Passwords tried by svcrack, in order, after which it counts numbers. Each guess answers a 401 it got back; with none pending (its last guess was dropped) it sends a bare REGISTER to fetch one, as svcrack.py does."),
    /** sipvicious binds one port and keeps it; `random` picks a new port per request. */
    sourcePort: z.union([z.number().int().min(1).max(65535), z.literal("random")]).default(5060).describe("sipvicious binds one port and keeps it; `random` picks a new port per request."),
    userAgent: z.string().max(128).default("friendly-scanner"),
    /** What it sends: REGISTER, or INVITE (svwar -m INVITE walks extensions with calls; an svcrack-style guesser calls `callTo` as the account, each 401 answered with the next password: toll fraud). */
    method: z
      .enum(["REGISTER", "INVITE"])
      .default("REGISTER")
      .describe(
        "What it sends: REGISTER, or INVITE (`svwar -m INVITE` walks extensions with calls; in svcrack mode it calls `callTo` as the account, answering each 401 with its next password guess, the way toll-fraud bots do: a call the PBX takes with a guessed password reaches the dialplan). Every final answer to an INVITE is ACKed.",
      ),
    /** svcrack with INVITE: the number called (an international premium number, as toll fraud dials). */
    callTo: z
      .string()
      .regex(/^\+?[0-9*#]{1,32}$/, "digits, * or #, optionally after a +")
      .default("00442079460000")
      .describe("svcrack mode with method INVITE: the number it calls (toll fraud dials international and premium numbers; the default is in a range kept for drama)."),
    /** svwar: what it does when an extension's answer is the random extension's and no "not found" (Asterisk's 401 to every user). */
    onAnswerLikeRandom: z
      .enum(["stop", "walk-on"])
      .default("stop")
      .describe(
        "svwar: what it does when an extension gets the answer a random extension got and that answer is none of svwar's 'not found' codes (404, 481, 503, 603...): `stop`, as sipvicious 0.3.3's svwar does (\"We got an unknown response\"; against Asterisk's PJSIP, which answers every user 401, after its first extension), or `walk-on`, as scanning bots do (and any flood with giveUpSeconds 0).",
      ),
    /** UDP, as sipvicious sends; or TCP, one connection from its source port (a new connection per request with sourcePort random); or that over TLS. */
    transport: z
      .enum(["udp", "tcp", "tls"])
      .default("udp")
      .describe(
        "udp, as sipvicious sends; tcp: each address keeps one connection from its source port (with sourcePort random, a new connection per request), and the PBX answers on it; tls: the same over TLS to the PBX's tlsPort, each connection's handshake first (a firewall sees record sizes and times, never a method).",
      ),
    /** TCP: each request leaves in two segments cut inside its method name, which a per-packet string match cannot see whole. */
    splitMethod: z
      .boolean()
      .default(false)
      .describe("transport tcp: each request leaves in two segments cut inside its method name (\"REGI\" then \"STER sip:...\"), the known way past a firewall that matches the method in each packet."),
    /** TCP: requests written together, so one segment carries several. */
    requestsPerWrite: z.number().int().min(1).max(32).default(1).describe("transport tcp or tls: requests written to the connection together, so one segment (over TLS one record) carries several."),
    /** Addresses of the host used at once (0 = all). */
    addressCount: z.number().int().min(0).max(65_536).default(0).describe("Addresses of the host used at once (0 = all)."),
    rotateAddresses: z
      .boolean()
      .default(false)
      .describe(
        "One tool whose every request leaves from the next of the host's addresses in turn (ratePps in all, not per address), as a scanner with a routed IPv6 prefix does: a counter per address sees each once per round, a counter per prefix sees them all.",
      ),
    /** sipvicious's --maximumtime. */
    giveUpSeconds: z
      .number()
      .min(0)
      .max(3600)
      .default(10)
      .describe(
        "sipvicious's --maximumtime: each address waits for an answer to its first request (svwar 3 s, svcrack 10 s) and sends nothing more without one, then stops after this many seconds without any answer (svwar also at its range's end); 0: a bot that never waits, stops or gives up.",
      ),
  })
  .strict();

const brokenPhoneSource = z
  .object({
    ...base,
    kind: z.literal("broken-phone"),
    account: z.string().min(1),
    /** Seconds between attempts: Snom phones with a wrong password retry about twice a second. */
    intervalSeconds: positiveSeconds.default(0.5).describe("Seconds between attempts: Snom phones with a wrong password retry about twice a second."),
    durationSeconds: positiveSeconds,
  })
  .strict();

const roamingSource = z
  .object({
    ...base,
    kind: z.literal("roaming-user"),
    account: z.string().min(1),
    /** The user's public address changes this often, and the phone re-registers from the new one. */
    moveEverySeconds: positiveSeconds.describe("The user's public address changes this often, and the phone re-registers from the new one."),
    expiresSeconds: z.number().int().min(60).max(86_400).default(600),
  })
  .strict();

const blfSource = z
  .object({
    ...base,
    kind: z.literal("blf-subscribe"),
    account: z.string().min(1),
    /** BLF keys: one dialog-event SUBSCRIBE each, sent in a burst. */
    keys: z.number().int().min(1).max(500).describe("BLF keys: one dialog-event SUBSCRIBE each, sent in a burst."),
    resubscribeSeconds: positiveSeconds.default(600),
    /** Extensions watched, in order. */
    watch: userListSchema.default("200-299").describe("Extensions watched, in order."),
  })
  .strict();

const replaySource = z
  .object({
    ...base,
    kind: z.literal("replay"),
    file: z.string().min(1),
    speed: z.number().gt(0).max(10_000).default(1),
    fromSeconds: seconds.default(0),
    toSeconds: seconds.optional(),
    /**
     * to-pbx: what the capture's clients sent to its PBX. both: also what the
     * capture's PBX sent (judged on the way out); the lab PBX answers either way.
     */
    direction: z.enum(["to-pbx", "both"]).default("to-pbx"),
    /** Ports carrying SIP in the capture; packets on other ports are picked by content. */
    sipPorts: z.array(z.number().int().min(1).max(65535)).default([5060, 5061]).describe("Ports carrying SIP in the capture; packets on other ports are picked by content."),
    iax2Ports: z
      .array(z.number().int().min(1).max(65535))
      .default([4569])
      .describe("UDP ports carrying IAX2 in the capture: its frames there are replayed to the lab PBX's iax2Port (its registrar answers them as chan_iax2 does; a captured call token has expired, so a replayed REGREQ carrying one is refused). Empty: IAX2 is skipped."),
    /**
     * The PBX's address(es) in the capture, all mapped onto the lab PBX; by default every
     * address that received more SIP requests than it sent (registrars, not phones or scanners).
     */
    pbxAddress: z.union([z.string().min(2).max(64), z.array(z.string().min(2).max(64)).min(1)]).optional(),
    /** Use the intact packets of a capture that ends mid-packet (tcpdump killed), with a warning. */
    allowTruncated: z.boolean().default(false).describe("Use the intact packets of a capture that ends mid-packet (tcpdump killed), with a warning."),
  })
  .strict();

/** IAX2 phones or trunks registering as Asterisk's `register =>` does (iax2_do_register). */
const iax2PhonesSource = z
  .object({
    ...base,
    kind: z.literal("iax2-phones"),
    count: z.number().int().min(1).max(10_000).default(1),
    accounts: userListSchema.describe("IAX2 peers (pbx.accounts) used in order, one per phone."),
    spreadSeconds: seconds.default(0).describe("Phones start registering within this window (0 = all at once)."),
    refreshSeconds: z.number().int().min(10).max(3600).default(60).describe("The refresh a phone asks for; it registers again every 5/6 of it (chan_iax2's client), whatever the registrar granted."),
    wrongPassword: z.boolean().default(false).describe("A wrong secret makes every phone fail (for tests)."),
  })
  .strict();

/** IAX2 registration brute force (password guessing or peer walking), one call per attempt. */
const iax2FloodSource = z
  .object({
    ...base,
    kind: z.literal("iax2-flood"),
    mode: z
      .enum(["guess", "walk"])
      .default("guess")
      .describe("`guess`: guesses the first peer's secret, answering each REGAUTH challenge with the MD5 of its next password; `walk`: bare REGREQs for each peer name in turn, as enumIAX does."),
    ratePps: z.number().gt(0).max(100_000).describe("Attempts (calls) a second from each address, at most."),
    durationSeconds: positiveSeconds,
    peers: userListSchema.default("100-999").describe("Peer names: the one guessed (its first), or those walked."),
    passwords: z.array(z.string().min(1).max(64)).default(["1234", "password", "100", "admin", "12345"]).describe("Passwords guessed, in order, after which it counts numbers from 0."),
    sourcePort: z.number().int().min(1).max(65535).default(4569).describe("The UDP port it sends from (an IAX2 client binds 4569 when free)."),
    reuseCallToken: z.boolean().default(false).describe("Reuse a call token for its 10 s (one token exchange per address every 9 s) instead of asking for one every attempt."),
    addressCount: z.number().int().min(0).max(65_536).default(0).describe("Addresses of the host used at once (0 = all)."),
    giveUpSeconds: z.number().min(0).max(3600).default(10).describe("Stops after this many seconds without any answer (0: a bot that starts an attempt on every tick whatever came back)."),
  })
  .strict();

/** One SIPp process registering an office's accounts: sipp-register.xml with an injection file, at a call rate. */
const sippOfficeSource = z
  .object({
    ...base,
    kind: z.literal("sipp-office"),
    /** Accounts, one per call, in order (SIPp's injection file). */
    accounts: userListSchema.describe("Accounts, one per call, in order (the injection file SIPp reads with -inf)."),
    /** Calls (registrations) in all, SIPp's -m; by default one per account. */
    count: z.number().int().min(1).max(10_000).optional().describe("Calls (registrations) in all, SIPp's -m; by default one per account."),
    /** New calls per second, SIPp's -r (its default 10). */
    ratePps: z.number().gt(0).max(10_000).default(10).describe("New calls per second, SIPp's -r (its default is 10)."),
    /** Calls open at once at most, SIPp's -l (0: no limit). */
    limit: z.number().int().min(0).max(10_000).default(0).describe("Calls open at once at most, SIPp's -l (0: no limit)."),
    /** u1: one socket for every call (SIPp's default); un: a socket, so a source port, per call. */
    transport: z.enum(["u1", "un"]).default("u1").describe("SIPp's -t: `u1` one socket for every call (its default), `un` a socket, so a source port, per call."),
    /** The port SIPp binds with u1 (-p). */
    localPort: z.number().int().min(1).max(65_535).default(5060).describe("The port SIPp binds with u1 (-p)."),
  })
  .strict();

/** A real program run in the docker lab's traffic container; the model engine runs its twin (tool-twin.ts). */
const toolSource = z
  .object({
    ...base,
    kind: z.literal("tool"),
    tool: z.enum(["svwar", "svcrack", "sipp-register"]),
    /** svwar: extensions to walk ("100-299"); svcrack: the extension to crack; sipp-register: the account. */
    target: z.string().regex(/^\d{1,10}(-\d{1,10})?$/, { message: 'expected an extension such as "200" or a range such as "100-299"' }).describe("svwar: extensions to walk (\"100-299\"); svcrack: the extension to crack; sipp-register: the account."),
    /** svcrack: the numeric passwords to try. */
    passwords: z.string().regex(/^\d{1,10}-\d{1,10}$/, { message: 'expected a range such as "1000-1299"' }).default("1000-1099").describe("svcrack: the numeric passwords to try."),
    /** sipp-register: the account's password. */
    password: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional().describe("sipp-register: the account's password (with a range of accounts, each account's from pbx.accounts)."),
    /** sipp-register with a range of accounts: new calls per second (-r). */
    ratePps: z.number().gt(0).max(10_000).optional().describe("sipp-register with a range of accounts (one SIPp process, an injection file of accounts and passwords): new calls per second, SIPp's -r (default 10)."),
    /** sipp-register with a range: calls in all (-m), one per account by default. */
    count: z.number().int().min(1).max(10_000).optional().describe("sipp-register with a range of accounts: calls in all, SIPp's -m (one per account by default)."),
    /** sipp-register with a range: calls open at once at most (-l), 0 for no limit. */
    limit: z.number().int().min(0).max(10_000).optional().describe("sipp-register with a range of accounts: calls open at once at most, SIPp's -l (0, the default: no limit)."),
    /** sipp-register with a range: -t u1 (one socket) or un (a port per call). */
    transport: z.enum(["u1", "un"]).optional().describe("sipp-register with a range of accounts: SIPp's -t, `u1` one socket (the default) or `un` a source port per call."),
  })
  .strict();

export const trafficSourceSchema = z.discriminatedUnion("kind", [
  toolSource,
  phonesSource,
  sippOfficeSource,
  floodSource,
  brokenPhoneSource,
  roamingSource,
  blfSource,
  replaySource,
  iax2PhonesSource,
  iax2FloodSource,
]);

const countBound = z.union([
  z.number().int().min(0),
  z.object({ min: z.number().int().min(0).optional(), max: z.number().int().min(0).optional() }).strict(),
]);

export const expectationSchema = z
  .object({
    source: name,
    /** Why the operator wants this; shown next to PASS/FAIL. */
    because: z.string().optional().describe("Why the operator wants this; shown next to PASS/FAIL."),
    /** "all" agents registered, "none", or a bound on how many. */
    registered: z.union([z.literal("all"), z.literal("none"), countBound]).optional().describe("\"all\" agents registered, \"none\", or a bound on how many."),
    delivered: countBound.optional(),
    dropped: countBound.optional(),
    /** The first drop comes at or before this packet of the source (1-based). */
    blockedWithinPackets: z.number().int().min(1).optional().describe("The first drop comes at or before this packet of the source (1-based)."),
    blockedWithinSeconds: positiveSeconds.optional(),
    /** After its first drop, nothing more from the source gets through while it keeps sending. */
    keptBlocked: z.boolean().optional().describe("After its first drop, nothing more from the source gets through while it keeps sending."),
    /** The source is never blocked (no packet of it dropped). */
    neverBlocked: z.boolean().optional().describe("The source is never blocked (no packet of it dropped)."),
    /** The attack found a password (a cracker got a 200): false is what a defence promises. */
    passwordFound: z.boolean().optional().describe("The attack found a password (a password guesser got a 200 OK): false is what a defence promises."),
    /** Extensions an extension walker (svwar) confirmed exist: 0 is what a PBX that answers unknown users as known ones promises. */
    extensionsFound: countBound.optional().describe("Extensions an extension walker (svwar) confirmed exist, by an answer unlike a random extension's: 0 is what a PBX that answers unknown users as known ones promises."),
    /** Calls of this source the PBX took into its dialplan (an INVITE it authenticated): toll fraud when it dials out. */
    callsReached: countBound.optional().describe("Calls of this source the PBX took into its dialplan (an INVITE whose credentials it accepted, answered with anything but a challenge): toll fraud when the dialplan dials out. 0 is what a defence promises."),
  })
  .strict();

const policyRef = z.union([z.string().min(1), z.record(z.string(), z.unknown())]);

const firewallSchema = z
  .object({
    /** Built-in policy name, or fields merged over the default policy. */
    policy: policyRef.optional().describe("Built-in policy name, or fields merged over the default policy."),
    /** An iptables-save file or an nftables ruleset (`nft list ruleset`) the user already runs, relative to the scenario file. */
    ruleset: z.string().min(1).optional().describe("An iptables-save file or an nftables ruleset (`nft list ruleset`, or nft -f input) the user already runs, relative to the scenario file. Both engines run nftables rulesets."),
    ruleset6: z
      .string()
      .min(1)
      .optional()
      .describe(
        "An ip6tables-save file (`ip6tables-save > rules.v6`) of the same host, relative to the scenario file: the rules IPv6 packets meet beside `ruleset`'s for IPv4. Absent, IPv6 meets no rules (ip6tables' ACCEPT policies), as on a host that never loaded any. An nftables ruleset holds both families itself.",
      ),
    /** How a policy's rules are written and loaded: iptables-restore (the default) or nft -f. */
    format: z
      .enum(["iptables", "nft"])
      .optional()
      .describe("How the policy's rules are written and loaded: iptables (iptables-restore, the default) or nft (nft -f, a table of its own). A ruleset file's own form decides for it."),
    /** An `ipset save` file with the sets the ruleset's -m set and SET rules name, relative to the scenario file. */
    ipset: z
      .string()
      .min(1)
      .optional()
      .describe("An `ipset save` file with the sets the ruleset's -m set and SET rules name (hash:ip, hash:net, hash:ip,port, bitmap:port), relative to the scenario file."),
    fail2ban: z
      .object({
        maxretry: z.number().int().min(1).max(1000).default(10).describe("Failed requests in Asterisk's log that ban an address (the asterisk jail's 10)."),
        findtimeSeconds: z.number().int().min(1).max(604_800).default(600).describe("...within this many seconds (fail2ban's findtime, 10 minutes)."),
        bantimeSeconds: z.number().int().min(1).max(31_536_000).default(600).describe("How long a ban lasts (bantime, 10 minutes)."),
        banDelaySeconds: z.number().min(0).max(60).default(0.45).describe("From the log line that tips a ban to the ban in the kernel, on the model engine (measured with real fail2ban 1.1.1 in the docker lab: 0.16 to 0.55 s, median 0.45 s; its threads poll with sleeps growing from 0.2 s to 2 s). The docker engine runs fail2ban itself."),
      })
      .strict()
      .optional()
      .describe(
        "fail2ban's asterisk jail on the PBX host beside the firewall (the docker engine runs Debian's fail2ban with its stock jail): it reads Asterisk's log of failed requests and bans an address, beside an iptables firewall through the iptables-ipset action (an ipset its REJECT rule, first in INPUT for ports 5060 and 5061, matches), beside an nftables one through the nftables action (its own table inet f2b-table, a set and a reject rule per protocol at input priority -1). Not with a router's policy.",
      ),
    addressMap: z
      .record(realCidr, labCidr)
      .optional()
      .superRefine((map, context) => {
        for (const [real, lab] of Object.entries(map ?? {})) {
          if (parseCidr(real).prefixLength !== parseCidr(lab).prefixLength) {
            context.addIssue({ code: "custom", path: [real], message: `${real} maps onto ${lab}: a real network maps onto a lab network of the same size` });
          }
        }
      })
      .describe(
        "Real addresses the ruleset names (the PBX's public address, offices' networks, private LANs) mapped onto lab networks of the same size, such as `81.2.3.0/24: 198.18.10.0/24`; every address in the ruleset and ipset file is rewritten through it before the run.",
      ),
  })
  .strict()
  .refine((f) => (f.policy === undefined) !== (f.ruleset === undefined), {
    message: "give exactly one of firewall.policy or firewall.ruleset",
  })
  .refine((f) => f.ruleset6 === undefined || f.ruleset !== undefined, {
    message: "firewall.ruleset6 goes with firewall.ruleset (the same host's ip6tables rules beside its iptables rules)",
  })
  .refine((f) => f.ipset === undefined || f.ruleset !== undefined, {
    message: "firewall.ipset goes with firewall.ruleset (a generated policy uses no sets)",
  })
  .refine((f) => f.addressMap === undefined || f.ruleset !== undefined, {
    message: "firewall.addressMap goes with firewall.ruleset (a generated policy names lab addresses already)",
  })
  .refine((f) => f.format === undefined || f.policy !== undefined, {
    message: "firewall.format goes with firewall.policy (a ruleset file is iptables-save or nft by what it holds)",
  });

const variantSchema = z
  .object({
    name,
    description: z.string().default(""),
    /** Policy fields merged over the scenario's policy. */
    policy: z.record(z.string(), z.unknown()).optional().describe("Policy fields merged over the scenario's policy."),
    ruleset: z.string().min(1).optional(),
    ruleset6: z.string().min(1).optional().describe("Replaces the scenario's firewall.ruleset6 (the ip6tables rules) in this variant."),
    /** Replaces the scenario's expectations when given. */
    expect: z.array(expectationSchema).optional().describe("Replaces the scenario's expectations when given."),
  })
  .strict();

export const scenarioSchema = z
  .object({
    name,
    description: z.string().min(1),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(1),
    /** Virtual time the run covers; traffic after it is not sent. */
    durationSeconds: positiveSeconds.describe("Virtual time the run covers; traffic after it is not sent."),
    startsAt: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/, { message: "expected an ISO 8601 UTC time such as 2026-12-07T08:59:30Z" })
      .refine((text) => !Number.isNaN(Date.parse(text)), { message: "not a real date and time" })
      .optional()
      .describe("The wall clock when the run starts (ISO 8601 UTC, such as 2026-12-07T08:59:30Z), for rules with -m time; the model engine only (a real kernel keeps the real clock). Absent, the real time the run starts."),
    firewall: firewallSchema,
    pbx: pbxSchema.default({ address: "198.51.100.10", port: 5060, iax2Port: 4569, tlsPort: 5061, realm: "asterisk", interface: "eth0", accounts: [] }),
    hosts: z.record(name, hostSchema),
    traffic: z.array(trafficSourceSchema).min(1),
    expect: z.array(expectationSchema).default([]),
    variants: z.array(variantSchema).default([]),
  })
  .strict();

export type ScenarioDocument = z.infer<typeof scenarioSchema>;
export type TrafficSourceSpec = z.infer<typeof trafficSourceSchema>;
export type HostSpec = z.infer<typeof hostSchema>;
export type PbxSpec = z.infer<typeof pbxSchema>;
export type Expectation = z.infer<typeof expectationSchema>;
export type CountBound = z.infer<typeof countBound>;
export type UserList = z.infer<typeof userListSchema>;
