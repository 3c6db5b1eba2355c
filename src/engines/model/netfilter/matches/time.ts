import type { MatchFactory, PacketContext } from "../match.js";
import { MatchOptions } from "./match-options.js";

/**
 * `-m time` as xt_time.c time_mt judges it: the packet's arrival time in whole
 * seconds since the epoch (UTC; --kerneltz uses the kernel's timezone, which
 * is UTC on the lab's hosts) against a date range, a daytime range (one that
 * wraps midnight matches on both sides of it; --contiguous counts its early
 * morning as the previous day), weekdays and days of the month. The time is
 * the run's wall clock: the scenario's `startsAt`, or the real time the run
 * began, plus its virtual time.
 */

const SECONDS_PER_DAY = 86_400;
const ALL_WEEKDAYS = 0xfe;
const ALL_MONTHDAYS = 0xfffffffe;
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

function parseDaytime(text: string, options: MatchOptions, flag: string): number {
  const match = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  const [hours, minutes, seconds] = match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : [99, 0, 0];
  if (hours > 23 || minutes > 59 || seconds > 59) throw options.error(`--${flag} ${text}: expected hh:mm[:ss], from 00:00:00 to 23:59:59`);
  return hours * 3600 + minutes * 60 + seconds;
}

/** ISO 8601 "T" notation, YYYY[-MM[-DD[Thh[:mm[:ss]]]]], in UTC as libxt_time reads it. */
function parseDate(text: string, options: MatchOptions, flag: string): number {
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2}))?)?)?)?)?$/.exec(text);
  if (!match) throw options.error(`--${flag} ${text}: expected YYYY[-MM[-DD[Thh[:mm[:ss]]]]], such as 2026-12-24T18:00:00`);
  const [year, month, day, hours, minutes, seconds] = [1, 2, 3, 4, 5, 6].map((group, index) => Number(match[group] ?? (index === 1 || index === 2 ? 1 : 0)));
  const epochSeconds = Date.UTC(year!, month! - 1, day!, hours!, minutes!, seconds!) / 1000;
  if (epochSeconds < 0 || epochSeconds > 0xffffffff) throw options.error(`--${flag} ${text}: outside 1970-01-01 to 2106-02-07`);
  return epochSeconds;
}

function parseWeekdays(text: string, options: MatchOptions): number {
  let bits = 0;
  for (const name of text.split(",")) {
    const index = /^[1-7]$/.test(name) ? Number(name) : WEEKDAYS.indexOf(name.toLowerCase().slice(0, 3)) + 1;
    if (index < 1 || (!/^[1-7]$/.test(name) && name.length < 2)) throw options.error(`--weekdays ${text}: "${name}" is not a weekday (Mon-Sun or 1-7)`);
    bits |= 1 << index;
  }
  return bits;
}

function parseMonthdays(text: string, options: MatchOptions): number {
  let bits = 0;
  for (const day of text.split(",")) {
    if (!/^\d{1,2}$/.test(day) || Number(day) < 1 || Number(day) > 31) throw options.error(`--monthdays ${text}: "${day}" is not a day of the month (1-31)`);
    bits = (bits | (1 << Number(day))) >>> 0;
  }
  return bits;
}

export const timeMatch: MatchFactory = (rawOptions, state, where) => {
  const options = new MatchOptions("time", rawOptions, where);
  const dateStart = options.has("datestart") ? parseDate(options.value("datestart")!, options, "datestart") : 0;
  const dateStop = options.has("datestop") ? parseDate(options.value("datestop")!, options, "datestop") : 0xffffffff;
  const daytimeStart = options.has("timestart") ? parseDaytime(options.value("timestart")!, options, "timestart") : 0;
  const daytimeStop = options.has("timestop") ? parseDaytime(options.value("timestop")!, options, "timestop") : SECONDS_PER_DAY - 1;
  const weekdayOption = options.get("weekdays");
  let weekdays = weekdayOption ? parseWeekdays(weekdayOption.args[0]!, options) : ALL_WEEKDAYS;
  if (weekdayOption?.negated) weekdays = ~weekdays & ALL_WEEKDAYS;
  const monthdayOption = options.get("monthdays");
  let monthdays = monthdayOption ? parseMonthdays(monthdayOption.args[0]!, options) : ALL_MONTHDAYS;
  if (monthdayOption?.negated) monthdays = (~monthdays & ALL_MONTHDAYS) >>> 0;
  const contiguous = options.has("contiguous");
  // time_mt_check: --contiguous with a range that does not wrap midnight is refused (-EINVAL).
  if (contiguous && daytimeStart < daytimeStop) throw options.error("--contiguous needs --timestart later than --timestop (a range across midnight); iptables-restore refuses it otherwise", "RULESET_REJECTED");
  const settings = state.settings;
  const wallStartNs = state.wallClockStartMs === undefined ? Date.now() * 1e6 : state.wallClockStartMs * 1e6;
  const nowNs = (context: PacketContext) => context.clockNs ?? ((context.jiffies - settings.startJiffies) * 1e9) / settings.hz;
  return (_packet, context) => {
    let stamp = Math.floor((wallStartNs + nowNs(context)) / 1e9);
    if (stamp < dateStart || stamp > dateStop) return false;
    const packetTime = stamp % SECONDS_PER_DAY;
    if (daytimeStart < daytimeStop) {
      if (packetTime < daytimeStart || packetTime > daytimeStop) return false;
    } else {
      if (packetTime < daytimeStart && packetTime > daytimeStop) return false;
      if (contiguous && packetTime <= daytimeStop) stamp -= SECONDS_PER_DAY;
    }
    const daysSinceEpoch = Math.floor(stamp / SECONDS_PER_DAY);
    // localtime_2: 1970-01-01 was a Thursday; Monday is 1, Sunday 7.
    const weekday = ((4 + daysSinceEpoch - 1) % 7) + 1;
    if (!(weekdays & (1 << weekday))) return false;
    if (monthdays !== ALL_MONTHDAYS) {
      const monthday = new Date(stamp * 1000).getUTCDate();
      if (!((monthdays >>> 0) & (1 << monthday))) return false;
    }
    return true;
  };
};
