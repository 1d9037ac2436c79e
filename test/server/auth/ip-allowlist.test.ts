import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpAllowlist, parseCidr } from '../../../src/server/auth/ip-allowlist.ts';
import { ServerConfigError } from '../../../src/server/config.ts';

test('IPv4 and IPv6 networks, IPv4-mapped addresses, bare hosts', () => {
  const list = new IpAllowlist(['127.0.0.1/32', '::1/128', '10.20.0.0/16', '2001:db8::/32', '192.0.2.7']);
  for (const ip of ['127.0.0.1', '::ffff:127.0.0.1', '::1', '10.20.255.1', '2001:db8:1::5', '192.0.2.7']) assert.ok(list.allows(ip), ip);
  for (const ip of ['127.0.0.2', '10.21.0.1', '2001:db9::1', '192.0.2.8', '::2', 'garbage', '']) assert.ok(!list.allows(ip), ip);
  assert.ok(new IpAllowlist(['0.0.0.0/0']).allows('203.0.113.9'));
  assert.ok(!new IpAllowlist([]).allows('127.0.0.1'), 'an empty list allows nobody');
});

test('bad networks are refused with a clear message', () => {
  assert.throws(() => parseCidr('10.0.0.0/33'), /prefix length/);
  assert.throws(() => parseCidr('::1/129'), /prefix length/);
  assert.throws(() => parseCidr('10.0.0.0/x'), /prefix length/);
  assert.throws(() => parseCidr('example.com/8'), /not an IP network/);
  assert.throws(() => parseCidr('1.2.3.4/8/9'), /not an IP network/);
  assert.throws(() => parseCidr('10.0.0.0/33'), ServerConfigError);
  assert.deepEqual(parseCidr(' 10.0.0.0/8 '), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
});
