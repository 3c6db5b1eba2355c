import { DEFAULT_TCP_TIMEOUTS, type TcpTimeouts } from "./tcp-conntrack.js";

/**
 * Kernel parameters that change results, with the kernel's defaults. The lab
 * machines run Linux 6.18 with CONFIG_HZ=250; xt_recent and conntrack defaults
 * are read from net/netfilter/xt_recent.c, nf_conntrack_proto_udp.c and
 * nf_conntrack_proto_tcp.c.
 */
export interface KernelSettings {
  /** CONFIG_HZ: jiffies per second. */
  readonly hz: number;
  /** jiffies when the run starts (the machine has been up a while; avoids boot-time wrap cases). */
  readonly startJiffies: number;
  /** xt_recent module parameter ip_list_tot: entries per recent table. */
  readonly recentIpListTot: number;
  /**
   * xt_recent ip_pkt_list_tot: timestamps kept per entry. 0 (the default since
   * Linux 4.x) sizes each table's ring from its rules' largest hitcount.
   */
  readonly recentIpPktListTot: number;
  /** nf_conntrack_udp_timeout (seconds): unreplied UDP flow. */
  readonly conntrackUdpTimeoutSeconds: number;
  /** nf_conntrack_udp_timeout_stream (seconds): flow that has seen traffic both ways. */
  readonly conntrackUdpTimeoutStreamSeconds: number;
  /** nf_conntrack_tcp_loose: a first segment other than a SYN picks up a connection under way. */
  readonly conntrackTcpLoose: boolean;
  /** nf_conntrack_tcp_timeout_* (seconds) by TCP state. */
  readonly conntrackTcpTimeouts: TcpTimeouts;
  /**
   * nf_defrag_ipv4 is loaded (it comes with conntrack, which the lab always
   * has): the filter table sees reassembled datagrams, not fragments.
   */
  readonly defragment: boolean;
  /**
   * The rules are loaded by iptables-nft (Debian since 10, Ubuntu since 21.04,
   * the lab's iptables 1.8.13), which turns `-m limit` into nftables' own
   * `limit` expression: a token bucket in nanoseconds of exactly `burst`
   * tokens, instead of xt_limit's bucket in jiffies whose credits round down.
   * false: iptables-legacy, xt_limit.
   */
  readonly iptablesNft: boolean;
}

export const defaultKernelSettings: KernelSettings = {
  hz: 250,
  startJiffies: 4_294_967_296 - 300 * 250 + 250 * 3600, // INITIAL_JIFFIES + one hour of uptime
  recentIpListTot: 100,
  recentIpPktListTot: 0,
  conntrackUdpTimeoutSeconds: 30,
  conntrackUdpTimeoutStreamSeconds: 120,
  conntrackTcpLoose: true,
  conntrackTcpTimeouts: DEFAULT_TCP_TIMEOUTS,
  defragment: true,
  iptablesNft: true,
};
