/** What a replay source sends: packets picked from a capture, in order, with their lab timing. */
export interface ReplayPacket {
  /** Microseconds after the replay starts (already divided by the speed factor). */
  readonly offsetUs: number;
  /** The capture's addresses; the source maps them onto lab addresses. */
  readonly captureSrc: string;
  readonly captureDst: string;
  readonly sport: number;
  readonly dport: number;
  readonly toPbx: boolean;
  /** The whole IP datagram as captured (IPv4 header, options, fragment fields; or IPv6's with its extension headers; payload). */
  readonly ip: Uint8Array;
  readonly payload: Uint8Array;
  readonly protocol: number;
}

export interface ReplayPlan {
  readonly file: string;
  readonly packets: readonly ReplayPacket[];
  /** The capture's client addresses in order of first appearance: the i-th gets the host's i-th lab address. */
  readonly clients: readonly string[];
  /** The capture's PBX address(es), all played by the lab PBX. */
  readonly capturePbx: readonly string[];
  /** Packets read but not replayed, by reason (IPv6, not SIP, outside the window, ...). */
  readonly skipped: Readonly<Record<string, number>>;
  readonly warnings: readonly string[];
}
