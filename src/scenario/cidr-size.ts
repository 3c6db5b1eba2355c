import { parseCidr } from "../net/address.js";

export function cidrSize(text: string): number {
  return 2 ** (32 - parseCidr(text).prefixLength);
}
