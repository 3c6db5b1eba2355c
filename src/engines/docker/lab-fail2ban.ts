import type { StartedTestContainer } from "testcontainers";
import type { Fail2banDefence } from "../../scenario/scenario.js";
import { F2B_NFT_CHAIN, F2B_NFT_TABLE, JAIL_RULE_COMMENT } from "../../scenario/with-fail2ban.js";
import type { Verdict } from "../../verdict/verdict.js";
import { EngineUnavailableError } from "../engine.js";

/** Where Debian's Asterisk writes its messages log (logger.conf's `messages.log`), which paths-debian.conf points the jail at. */
export const ASTERISK_MESSAGES_LOG = "/var/log/asterisk/messages.log";
const FAIL2BAN_LOG = "/var/log/fail2ban.log";
const STOCK_JAIL = "asterisk";

/**
 * jail.d/slamlab.local: Debian's fail2ban with its stock asterisk jail
 * (jail.conf's [asterisk]: the asterisk filter on Asterisk's messages log,
 * one action per protocol for ports 5060 and 5061) enabled with the
 * scenario's limits, banning through the iptables-ipset action beside an
 * iptables firewall, through the nftables action (Debian's default) beside
 * an nftables one.
 * Debian's sshd jail is off: the lab has no sshd and no journal.
 */
export function jailLocal(jail: Fail2banDefence): string {
  const name = jailName(jail);
  const limits = [`enabled  = true`, `maxretry = ${jail.maxretry}`, `findtime = ${jail.findtimeSeconds}`, `bantime  = ${jail.bantimeSeconds}`];
  // A jail of another name (its sets' names were taken by the scenario's own) is the stock one under that name.
  const stock =
    name === STOCK_JAIL
      ? []
      : [
          "filter   = asterisk",
          "port     = 5060,5061",
          `logpath  = ${ASTERISK_MESSAGES_LOG}`,
          'action_  = %(default/action_)s[name=%(__name__)s-tcp, protocol="tcp"]',
          '           %(default/action_)s[name=%(__name__)s-udp, protocol="udp"]',
        ];
  const banaction = jail.banAction === "nftables" ? "nftables" : "iptables-ipset";
  return ["[DEFAULT]", `banaction = ${banaction}`, "", "[sshd]", "enabled = false", "", `[${name}]`, ...stock, ...limits, ""].join("\n");
}

/**
 * action.d/iptables-ipset.local: the lab loads the action's REJECT rules
 * with the scenario's own (fail2ban-firewall's rules, each logging its
 * verdict) and creates its sets as the action would, so the action only
 * checks its set is there and fills it: its ban (`ipset -exist add`) and
 * unban are fail2ban's own.
 */
export const IPSET_ACTION_LOCAL = [
  "[Definition]",
  "actionstart = ipset -exist create <ipmset> <ipsettype> timeout <default-ipsettime> maxelem <maxelem> <familyopt>",
  "actionstop = <actionflush>",
  "actioncheck =",
  "",
].join("\n");

/**
 * action.d/nftables.local: as for iptables-ipset, the lab loads the
 * action's table, sets and reject rules with the scenario's ruleset (its
 * rules logging their verdicts); the action adds its table and set, which
 * `nft add` leaves as they are, and adds and deletes elements: no rule of
 * its own, which would land after the lab's.
 */
export const NFT_ACTION_LOCAL = [
  "[Definition]",
  "actionstart = <nftables> add table <table_family> <table>",
  "              <nftables> add set <table_family> <table> <addr_set> \\{ type <addr_type>\\; \\}",
  "actionflush = <nftables> flush set <table_family> <table> <addr_set>",
  "actionstop = <actionflush>",
  "actioncheck =",
  "",
].join("\n");

/** The override file of the jail's ban action, and its content. */
export function actionOverride(jail: Fail2banDefence): { path: string; content: string } {
  return jail.banAction === "nftables" ? { path: "/etc/fail2ban/action.d/nftables.local", content: NFT_ACTION_LOCAL } : { path: "/etc/fail2ban/action.d/iptables-ipset.local", content: IPSET_ACTION_LOCAL };
}

/** The jail's name: its sets are `f2b-<name>-tcp` and `f2b-<name>-udp`. */
function jailName(jail: Fail2banDefence): string {
  return jail.set.replace(/^f2b-/, "");
}

/** Starts fail2ban in the PBX's container (it reads Asterisk's log there; ipset acts in the network namespace the firewall shares) and waits for its jail. */
export async function startFail2ban(pbx: StartedTestContainer, jail: Fail2banDefence): Promise<void> {
  const started = await pbx.exec(["sh", "-c", `mkdir -p /run/fail2ban && touch ${ASTERISK_MESSAGES_LOG} && fail2ban-client -x start`]);
  if (started.exitCode !== 0) throw new EngineUnavailableError("DOCKER_FAIL2BAN", `fail2ban did not start in the lab (its words below); rerun, and if it fails again rebuild the lab image (remove the one \`slamlab images list\` shows with docker rmi, then slamlab images build): ${(started.stderr || started.output).trim().slice(0, 500)}`);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if ((await pbx.exec(["fail2ban-client", "status", jailName(jail)])).exitCode === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const log = await pbx.exec(["sh", "-c", `tail -20 ${FAIL2BAN_LOG}`]);
  throw new EngineUnavailableError("DOCKER_FAIL2BAN", `fail2ban's ${jailName(jail)} jail did not come up within 30 s (the end of its log below); rerun on a less loaded machine, and if it stays down report it with that log: ${log.output.trim().slice(-800)}`);
}

export interface Fail2banAccount {
  /** Each ban fail2ban logged: the address and when, in µs from the run's start. */
  readonly bans: Array<{ address: string; atUs: number }>;
  /** fail2ban's own log for the report's artifacts: its Ban lines, then its last lines. */
  readonly log: string;
}

/** The bans fail2ban's log records ("NOTICE [asterisk] Ban 198.51.100.7"), timed from the run's start; its clock is the host's (UTC in the lab). */
export function bansInLog(log: string, t0EpochMs: number): Array<{ address: string; atUs: number }> {
  const bans: Array<{ address: string; atUs: number }> = [];
  for (const match of log.matchAll(/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3}) fail2ban\.actions\s*\[\d+\]: NOTICE\s+\[[^\]]+\] Ban (\S+)$/gm)) {
    const epochMs = Date.parse(`${match[1]}T${match[2]}.${match[3]}Z`);
    bans.push({ address: match[4]!, atUs: Math.round((epochMs - t0EpochMs) * 1000) });
  }
  return bans;
}

/** Lines of a log the lab keeps in a run's artifacts: its end (a flood writes a line a request, fail2ban one a failure). */
export const LOG_LINES_KEPT = 200;

/**
 * What fail2ban did during the run: its Ban lines, picked in the container
 * (its log has a "Found" line per failure, as long as the flood), and the
 * end of its log for the report.
 */
export async function fail2banAccount(pbx: StartedTestContainer, t0EpochMs: number): Promise<Fail2banAccount> {
  const [bans, log] = await Promise.all([pbx.exec(["sh", "-c", `grep ' Ban ' ${FAIL2BAN_LOG}`]), pbx.exec(["sh", "-c", `tail -n ${LOG_LINES_KEPT} ${FAIL2BAN_LOG}`])]);
  return { bans: bansInLog(bans.output, t0EpochMs), log: `${bans.output.trimEnd()}\n... its last ${LOG_LINES_KEPT} lines:\n${log.output}` };
}

/**
 * A line of Asterisk's messages log about a request that failed, a call
 * the dialplan refused or an IAX2 registration refused (what fail2ban's
 * asterisk filter reads), as an extended regular expression both grep and
 * JavaScript read alike.
 */
export const FAILED_REQUEST_LINE =
  "\\bRequest '[^']*' from '.*' failed for '[^']+' \\(callid: [^)]*\\) - |\\bCall \\((UDP|TCP|TLS|WS|WSS):[^)]*\\) to extension '[^']*' rejected because extension not found in context |chan_iax2\\.c: (Host [^ ]+ failed MD5 authentication for '|No registration for peer ')";

/** Such lines in a text. */
export function failedRequestLines(messages: string): number {
  return (messages.match(new RegExp(`^.*(${FAILED_REQUEST_LINE}).*$`, "gm")) ?? []).length;
}

/** Such lines in Asterisk's log, counted in the container: a flood's log is too big to carry out whole. */
export async function countFailedRequestLines(pbx: StartedTestContainer): Promise<number> {
  const counted = await pbx.exec(["grep", "-cE", FAILED_REQUEST_LINE, ASTERISK_MESSAGES_LOG]);
  return Number(counted.output.trim()) || 0;
}

/** The jail's rules: the iptables ones by their comment, the nftables action's by their chain (nft's log carries no comment). */
const isJailRule = (rule: Verdict["rule"]) => rule.comment === JAIL_RULE_COMMENT || rule.chain === `inet ${F2B_NFT_TABLE} ${F2B_NFT_CHAIN}`;

/**
 * When each ban reached the kernel, as the packets show it: fail2ban logs
 * "Ban" and then runs its actions (tcp's, then udp's: milliseconds each),
 * so the set took the address between the last packet from it the firewall
 * let through and the first its jail rule rejected. The logged time, moved
 * into that interval; with no rejected packet after it, as logged.
 */
export function bansInKernel(
  logged: ReadonlyArray<{ address: string; atUs: number }>,
  verdicts: ReadonlyArray<Pick<Verdict, "atUs" | "direction" | "srcAddr" | "verdict" | "rule">>,
): Array<{ address: string; atUs: number }> {
  // Each address's own requests, gathered once: a botnet's bans times a flood's verdicts would be too many.
  const byAddress = new Map<string, Array<(typeof verdicts)[number]>>();
  for (const verdict of verdicts) {
    if (verdict.direction !== "to-pbx") continue;
    const own = byAddress.get(verdict.srcAddr);
    if (own) own.push(verdict);
    else byAddress.set(verdict.srcAddr, [verdict]);
  }
  return logged.map((ban) => {
    const own = byAddress.get(ban.address) ?? [];
    const firstRejected = own.find((verdict) => verdict.verdict === "dropped" && isJailRule(verdict.rule) && verdict.atUs >= ban.atUs - 1_000_000);
    if (!firstRejected) return ban;
    const lastThrough = own.filter((verdict) => verdict.verdict === "delivered" && verdict.atUs < firstRejected.atUs).at(-1);
    const earliest = lastThrough ? lastThrough.atUs + 1 : Number.NEGATIVE_INFINITY;
    return { address: ban.address, atUs: Math.min(firstRejected.atUs, Math.max(earliest, ban.atUs)) };
  });
}
