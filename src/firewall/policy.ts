import { z } from "zod";
import { isCidr } from "../net/address.js";

/**
 * A firewall policy: what a PBX operator decides (which ports, which methods
 * count, how many per how long, who is trusted). The generator turns it into
 * ruleset text; nothing from here reaches a rule or a shell line unvalidated.
 */

const cidrText = z.string().refine(isCidr, { message: "expected an IPv4 address or CIDR such as 192.0.2.0/24" });

const port = z.number().int().min(1).max(65535);

export const sipMethods = ["REGISTER", "INVITE", "SUBSCRIBE", "OPTIONS", "MESSAGE", "NOTIFY"] as const;

/** Kernel bounds: xt_recent rejects --hitcount >= XT_RECENT_MAX_NSTAMPS (65536 on Linux 6.x). */
export const RECENT_MAX_HITCOUNT = 65535;

const recentMatcher = z
  .object({
    kind: z.literal("recent"),
    /** Packets that make a source slamming, within `seconds`. */
    hits: z
      .number()
      .int()
      .min(1)
      .max(RECENT_MAX_HITCOUNT, { message: `xt_recent accepts --hitcount up to ${RECENT_MAX_HITCOUNT} (XT_RECENT_MAX_NSTAMPS - 1)` }),
    seconds: z.number().int().min(1).max(86_400 * 7),
    /** xt_recent list name; [A-Za-z0-9_-], as /proc/net/xt_recent file names allow. */
    name: z.string().regex(/^[A-Za-z0-9_-]{1,31}$/).default("SIP"),
  })
  .strict();

const hashlimitMatcher = z
  .object({
    kind: z.literal("hashlimit"),
    /** Sustained packets per `per` a source may send before it counts as slamming. */
    rate: z.number().int().min(1).max(10_000),
    per: z.enum(["second", "minute", "hour", "day"]).default("minute"),
    burst: z.number().int().min(1).max(10_000).default(5),
    /** Entries expire this long after their last packet (--hashlimit-htable-expire). */
    expireSeconds: z.number().int().min(1).max(86_400).default(120),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,15}$/).default("SIP"),
  })
  .strict();

export const matcherSchema = z.discriminatedUnion("kind", [recentMatcher, hashlimitMatcher]);

const loggingSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("none") }).strict(),
  z
    .object({
      kind: z.literal("log"),
      /** LOG is rate-limited: syslog under a flood can cripple a small PBX (reference post). */
      ratePerMinute: z.number().int().min(1).max(600).default(6),
    })
    .strict(),
  z.object({ kind: z.literal("nflog"), group: z.number().int().min(0).max(65535).default(1) }).strict(),
]);

export const policySchema = z
  .object({
    placement: z.enum(["host", "router"]).default("host"),
    sip: z
      .object({
        ports: z.array(port).min(1).max(15).default([5060]),
        transports: z.array(z.enum(["udp", "tcp"])).min(1).default(["udp"]),
        /** What is counted over TCP: each segment that starts with a counted method, or each write (a segment with PSH), whatever its bytes. */
        tcpCount: z
          .enum(["method", "writes"])
          .default("method")
          .describe(
            "What counts over TCP: `method`, each segment that starts with a counted method (as over UDP; a request cut inside its method name is never counted), or `writes`, each segment with PSH, which ends every write a sender makes, whatever its bytes (a request in two writes counts twice; a phone's CRLF keepalive counts too).",
          ),
      })
      .strict()
      .default({ ports: [5060], transports: ["udp"], tcpCount: "method" }),
    /** SIP over TLS counted by its writes: encrypted, it has no method to match. */
    tls: z
      .object({ ports: z.array(port).min(1).max(15).default([5061]) })
      .strict()
      .optional()
      .describe(
        "SIP over TLS counted by what a firewall sees of it: each segment with PSH (the end of every write) to these TCP ports (PJSIP's transport-tls, 5061) is a counted request in the same per-source limit, whatever it carries, since the payload is encrypted and has no method to match. A connection's handshake costs two writes before its first request (the ClientHello, and the client's Finished, which carries the first request), so a phone registering over a new connection counts three.",
      ),
    /** IAX2 registrations counted with SIP's: every REGREQ to these ports goes through the same checks and limit. */
    iax2: z
      .object({ ports: z.array(port).min(1).max(15).default([4569]) })
      .strict()
      .optional()
      .describe(
        "IAX2 registrations counted with SIP's (the reference post's next step): each REGREQ to these UDP ports (chan_iax2's 4569) is a counted request in the same per-source limit, told by u32 (nft: a raw payload) on the full frame's F bit, type (IAX) and subclass (REGREQ); a blocked source's IAX2 is dropped too. A registration costs three REGREQs (a call token asked for, the call opened with it, the MD5 answer), so an office of N IAX2 phones needs 3N within the window.",
      ),
    /** Which SIP request methods are counted. */
    methods: z.array(z.enum(sipMethods)).min(1).default(["REGISTER"]),
    matcher: matcherSchema.default({ kind: "recent", hits: 10, seconds: 60, name: "SIP" }),
    /** How the method is recognised: `string` at the start of the UDP payload, or `u32` on the first word. */
    methodMatch: z.enum(["string", "u32"]).default("string"),
    /** kmp by default: bm can miss a pattern that spans non-linear skb fragments. */
    stringAlgo: z.enum(["kmp", "bm"]).default("kmp"),
    /** Trusted sources (offices with fixed addresses) that bypass counting. */
    allowSites: z.array(cidrText).max(1000).default([]),
    /** Once over the limit, a source stays dropped until it has been quiet this long. */
    blockSeconds: z.number().int().min(1).max(86_400 * 7).default(120),
    /** Repeat offenders go to a long-term list, as production firewalls do. */
    escalation: z
      .object({
        enabled: z.boolean().default(false),
        /** Blocks within `withinSeconds` that send a source to the long-term list. */
        strikes: z.number().int().min(2).max(RECENT_MAX_HITCOUNT).default(3),
        withinSeconds: z.number().int().min(1).max(86_400 * 7).default(3600),
        blockSeconds: z.number().int().min(1).max(86_400 * 30).default(86_400),
      })
      .strict()
      .default({ enabled: false, strikes: 3, withinSeconds: 3600, blockSeconds: 86_400 }),
    logging: loggingSchema.default({ kind: "none" }),
  })
  .strict();

/** A policy with every default filled in. */
export type Policy = z.infer<typeof policySchema>;
/** What a user may write: any field may be left out. */
export type PolicyInput = z.input<typeof policySchema>;

export const defaultPolicy: Policy = policySchema.parse({});
