import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { ServerConfigError } from '../config.ts';

/** A set of IPv4/IPv6 networks (`10.0.0.0/8`, `::1/128`, or a bare address for one host). */
export class IpAllowlist {
  private readonly list = new BlockList();

  constructor(readonly cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const { address, prefix, family } = parseCidr(cidr);
      this.list.addSubnet(address, prefix, family);
    }
  }

  allows(ip: string): boolean {
    const address = unmapIPv4(ip);
    if (isIPv4(address)) return this.list.check(address, 'ipv4');
    if (isIPv6(address)) return this.list.check(address, 'ipv6');
    return false;
  }
}

export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [rawAddress = '', rawPrefix, extra] = cidr.trim().split('/');
  const address = unmapIPv4(rawAddress);
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  if (!family || extra !== undefined) throw new ServerConfigError(`not an IP network: "${cidr}" (try 192.168.1.0/24 or ::1/128)`);
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = rawPrefix === undefined ? max : Number(rawPrefix);
  if (!/^\d+$/.test(rawPrefix ?? String(max)) || prefix > max) {
    throw new ServerConfigError(`bad prefix length in "${cidr}": must be 0 to ${max}`);
  }
  return { address, prefix, family };
}

/** A dual-stack socket reports IPv4 peers as `::ffff:a.b.c.d`; the allowlist speaks plain IPv4 for them. */
export function unmapIPv4(ip: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return match ? match[1]! : ip;
}
