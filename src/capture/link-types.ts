/** Link-layer types slamlab decodes (tcpdump.org/linktypes.html). */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;
/** Linux NFLOG: netfilter's log records (tcpdump -i nflog:N), the packet inside a TLV. */
export const LINKTYPE_NFLOG = 239;
/** DLT_RAW as some systems write it in pcap headers (12 on most, 14 on OpenBSD). */
const DLT_RAW_ALIASES = [12, 14];

export const supportedLinkTypes: Readonly<Record<number, string>> = {
  [LINKTYPE_NULL]: "BSD loopback",
  [LINKTYPE_ETHERNET]: "Ethernet",
  [LINKTYPE_RAW]: "raw IP",
  12: "raw IP (DLT_RAW)",
  14: "raw IP (DLT_RAW, OpenBSD)",
  [LINKTYPE_LOOP]: "OpenBSD loopback",
  [LINKTYPE_LINUX_SLL]: "Linux cooked (SLL)",
  [LINKTYPE_IPV4]: "raw IPv4",
  [LINKTYPE_IPV6]: "raw IPv6",
  [LINKTYPE_LINUX_SLL2]: "Linux cooked v2 (SLL2)",
  [LINKTYPE_NFLOG]: "Linux NFLOG",
};

const wellKnownNames: Readonly<Record<number, string>> = { 105: "IEEE 802.11", 127: "802.11 radiotap", 147: "user-defined", 9: "PPP", 192: "PPI" };

export function isRawIp(linkType: number): boolean {
  return linkType === LINKTYPE_RAW || DLT_RAW_ALIASES.includes(linkType);
}

export function linkTypeName(linkType: number): string {
  return supportedLinkTypes[linkType] ?? wellKnownNames[linkType] ?? "unknown";
}

export function isSupportedLinkType(linkType: number): boolean {
  return linkType in supportedLinkTypes;
}

export function supportedLinkTypeList(): string {
  return Object.entries(supportedLinkTypes)
    .map(([number, name]) => `${number} (${name})`)
    .join(", ");
}
