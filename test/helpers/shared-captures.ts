import { existsSync } from "node:fs";
import { join } from "node:path";

/** ../shared/captures beside the project: public captures, read in place, never copied. */
export const sharedCaptures = join(import.meta.dirname, "..", "..", "..", "shared", "captures");
export const haveSharedCaptures = existsSync(sharedCaptures);
if (!haveSharedCaptures) console.log(`skipping tests on public captures: ${sharedCaptures} is absent (it sits beside the project in CI)`);

export const publicCaptures = [
  "lbnl_SIP-Bruteforce-Single-IP.pcap",
  "lbnl_BadUserAgent-sipvicious.pcap",
  "zeek_wireshark_nero-sipps-ser.pcap",
  "ndpi_sip_hello_huawei-softx3000.pcapng",
  "suricata-verify_sip-tcp_zoiper-kamailio.pcap",
];

export function sharedCapture(name: string): string {
  return join(sharedCaptures, name);
}
