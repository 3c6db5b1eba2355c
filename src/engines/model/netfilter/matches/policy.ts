import type { MatchFactory } from "../match.js";
import { MatchOptions } from "./match-options.js";

/** XT_POLICY_MAX_ELEM: the most policy elements one match holds. */
const MAX_ELEMENTS = 4;
const ELEMENT_OPTIONS = new Set(["reqid", "spi", "proto", "mode", "tunnel-src", "tunnel-dst"]);
/** IPPROTO_AH, IPPROTO_ESP, IPPROTO_COMP by name or number. */
const IPSEC_PROTOCOLS = new Set(["ah", "esp", "ipcomp", "51", "50", "108"]);

/**
 * xt_policy.c policy_mt: whether the packet was (`--dir in`) or will be
 * (`--dir out`) handled by IPsec. The lab has no IPsec: no packet has a
 * secpath in or an xfrm bundle out, so match_policy_in/out return -1, and the
 * match holds for `--pol none` and never for `--pol ipsec` (the default),
 * whatever elements follow. The elements are still read and refused as
 * libxt_policy refuses them, so a rule that would not load is not judged.
 */
export const policyMatch: MatchFactory = (rawOptions, _state, where) => {
  const options = new MatchOptions("policy", rawOptions, where);
  const direction = options.value("dir");
  if (direction === undefined) throw options.error("neither --dir in nor --dir out specified");
  if (direction !== "in" && direction !== "out") throw options.error(`--dir ${direction}: in or out`);
  const policy = options.value("pol") ?? "ipsec";
  if (options.get("pol")?.negated) throw options.error(`option "--pol" cannot be inverted`);
  if (policy !== "none" && policy !== "ipsec") throw options.error(`--pol ${policy}: none or ipsec`);
  const strict = options.has("strict");
  if (policy === "none") {
    if (strict) throw options.error("policy none but --strict given");
    return () => true;
  }
  // Policy elements in order, --next starting the next one.
  const elements: Array<{ fields: Set<string>; tunnelMode: boolean }> = [{ fields: new Set(), tunnelMode: false }];
  for (const option of rawOptions) {
    if (option.name === "dir" && option !== options.get("dir")) throw options.error(`option "--dir" can only be used once`);
    if (option.name === "next") {
      if (!strict) throw options.error(`option "--next" also requires "--strict"`);
      if (elements.length === MAX_ELEMENTS) throw options.error(`maximum policy depth reached (${MAX_ELEMENTS} elements)`);
      elements.push({ fields: new Set(), tunnelMode: false });
      continue;
    }
    if (!ELEMENT_OPTIONS.has(option.name)) continue;
    const element = elements[elements.length - 1]!;
    if (element.fields.has(option.name)) throw options.error(`double --${option.name} option; start the next policy element with --next`);
    element.fields.add(option.name);
    const value = option.args[0]!;
    if (option.name === "proto" && !IPSEC_PROTOCOLS.has(value.toLowerCase())) throw options.error(`--proto ${value}: protocol must be ah/esp/ipcomp`);
    if (option.name === "mode" && value !== "transport" && value !== "tunnel") throw options.error(`invalid mode "${value}": transport or tunnel`);
    // libxt_policy's check: (mode == tunnel) ^ (mode negated), so "! --mode transport" is tunnel mode too.
    if (option.name === "mode") element.tunnelMode = (value === "tunnel") !== option.negated;
    if ((option.name === "reqid" || option.name === "spi") && !(/^(0x[0-9a-f]+|\d+)$/i.test(value) && Number(value) <= 0xffffffff)) throw options.error(`--${option.name} ${value}: a number from 0 to 4294967295`);
  }
  elements.forEach((element, index) => {
    if (strict && element.fields.size === 0) throw options.error(`empty policy element ${index}. --strict is in effect, but at least one of reqid, spi, tunnel-src, tunnel-dst, proto or mode is required`);
    if ((element.fields.has("tunnel-src") || element.fields.has("tunnel-dst")) && !element.tunnelMode) throw options.error("--tunnel-src/--tunnel-dst is only valid in tunnel mode");
  });
  return () => false;
};
