/**
 * A home NAT in network namespaces (as integration/src/rtpproxy/nat.test.ts): a phone on a
 * private LAN behind a MASQUERADE --random-fully router, a "public" segment with the proxy,
 * the media relay and a second phone, and a /30 control link from the root namespace (the test)
 * to the public segment for the relay's ng socket and the proxy's admin API. No namespace has
 * a route to anything else.
 *
 *   [lan] 10.232.K.2 --veth-- 10.232.K.1 [nat] 203.0.113.2 --veth-- 203.0.113.1 proxy + relay media
 *          phone A             MASQUERADE                          203.0.113.3 phone B      [wan]
 *                                                                   169.254.K.2 --veth-- 169.254.K.1 [root: test]
 *
 * The NAT's UDP conntrack timeouts are set short, so a mapping that sees no packet for a few
 * seconds is gone — what a home router does after 30-180 s, compressed.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export class NatTopology {
  readonly sfx = randomBytes(3).toString('hex');
  readonly k = 1 + Math.floor(Math.random() * 250);
  readonly ns = { lan: `natit-${this.sfx}-lan`, nat: `natit-${this.sfx}-nat`, wan: `natit-${this.sfx}-wan` };
  readonly phoneA = `10.232.${this.k}.2`;
  readonly lanGateway = `10.232.${this.k}.1`;
  readonly natPublic = '203.0.113.2';
  readonly proxyIp = '203.0.113.1';
  readonly phoneB = '203.0.113.3';
  readonly ctlRoot = `169.254.${this.k}.1`;
  readonly ctlWan = `169.254.${this.k}.2`;

  private ip(...args: string[]): void {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  }

  inNs(ns: string, cmd: string, ...args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  }

  /** Builds the namespaces; `udpTimeout` (s) is the NAT's conntrack timeout for UDP mappings. */
  up(udpTimeout: number): void {
    const { lan, nat, wan } = this.ns;
    const s = this.sfx;
    for (const n of [lan, nat, wan]) {
      this.ip('netns', 'add', n);
      this.inNs(n, 'ip', 'link', 'set', 'lo', 'up');
    }
    this.ip('link', 'add', `ga${s}`, 'netns', lan, 'type', 'veth', 'peer', 'name', `gn${s}`, 'netns', nat);
    this.inNs(lan, 'ip', 'addr', 'add', `${this.phoneA}/24`, 'dev', `ga${s}`);
    this.inNs(lan, 'ip', 'link', 'set', `ga${s}`, 'up');
    this.inNs(lan, 'ip', 'route', 'add', 'default', 'via', this.lanGateway);
    this.inNs(nat, 'ip', 'addr', 'add', `${this.lanGateway}/24`, 'dev', `gn${s}`);
    this.inNs(nat, 'ip', 'link', 'set', `gn${s}`, 'up');
    this.ip('link', 'add', `gw${s}`, 'netns', nat, 'type', 'veth', 'peer', 'name', `gp${s}`, 'netns', wan);
    this.inNs(nat, 'ip', 'addr', 'add', `${this.natPublic}/24`, 'dev', `gw${s}`);
    this.inNs(nat, 'ip', 'link', 'set', `gw${s}`, 'up');
    this.inNs(wan, 'ip', 'addr', 'add', `${this.proxyIp}/24`, 'dev', `gp${s}`);
    this.inNs(wan, 'ip', 'addr', 'add', `${this.phoneB}/24`, 'dev', `gp${s}`);
    this.inNs(wan, 'ip', 'link', 'set', `gp${s}`, 'up');
    this.inNs(nat, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    this.inNs(nat, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', `gw${s}`, '-j', 'MASQUERADE', '--random-fully');
    // Per-namespace conntrack timeouts (unreplied and "stream" UDP entries alike).
    this.inNs(nat, 'sysctl', '-qw', `net.netfilter.nf_conntrack_udp_timeout=${udpTimeout}`);
    this.inNs(nat, 'sysctl', '-qw', `net.netfilter.nf_conntrack_udp_timeout_stream=${udpTimeout}`);
    this.ip('link', 'add', `gr${s}`, 'type', 'veth', 'peer', 'name', `gc${s}`, 'netns', wan);
    this.ip('addr', 'add', `${this.ctlRoot}/30`, 'dev', `gr${s}`);
    this.ip('link', 'set', `gr${s}`, 'up');
    this.inNs(wan, 'ip', 'addr', 'add', `${this.ctlWan}/30`, 'dev', `gc${s}`);
    this.inNs(wan, 'ip', 'link', 'set', `gc${s}`, 'up');
  }

  /** The NAT's UDP conntrack timeout as the kernel has it (proves the short mapping lifetime). */
  udpTimeout(): number {
    return Number(this.inNs(this.ns.nat, 'sysctl', '-n', 'net.netfilter.nf_conntrack_udp_timeout').trim());
  }

  down(): void {
    for (const n of Object.values(this.ns)) {
      try {
        this.ip('netns', 'del', n);
      } catch {
        // not created
      }
    }
    try {
      this.ip('link', 'del', `gr${this.sfx}`);
    } catch {
      // gone with the wan namespace
    }
  }
}
