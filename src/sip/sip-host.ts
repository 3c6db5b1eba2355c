/** An address as SIP writes it in a URI, Via or Contact (RFC 3261 25.1's IPv6reference): an IPv6 address in brackets. */
export function sipHost(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}
