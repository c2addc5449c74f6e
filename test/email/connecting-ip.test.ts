/** Which connecting IP rejected mail is counted by: only what the repo's own mail server wrote. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectingIp } from '../../src/email/connecting-ip.ts';
import { parseHeaderSection } from '../../src/email/headers.ts';

const AUTHSERV = 'mx.corp.example';
const lines = (...received: string[]) => parseHeaderSection(received.map((r) => `Received: ${r}\r\n`).join('') + 'From: x@evil.example\r\n');

test('connecting IP: the TCP-info of the topmost Received the trusted server added, public addresses only', () => {
  const cases: Array<[string, string[], string | null]> = [
    ['postfix', ['from mail.evil.example (mail.evil.example [203.0.113.5]) by mx.corp.example (Postfix) with ESMTPS id 1; Mon, 6 May 2024 10:00:00 +0000'], '203.0.113.5'],
    ['gmail style, dotted rDNS', ['from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])\r\n        by mx.corp.example with SMTPS id x; Mon, 6 May 2024'], '209.85.220.41'],
    ['no rDNS', ['from helo.example (unknown [203.0.113.6]) by MX.CORP.EXAMPLE. with ESMTP'], '203.0.113.6'],
    ['ipv6', ['from mail.evil.example (mail.evil.example [IPv6:2001:DB8:5::1]) by mx.corp.example with ESMTP'], '2001:db8:5::1'],
    ['a HELO literal is the sender\'s word', ['from [6.6.6.6] (unknown [203.0.113.7]) by mx.corp.example with SMTP'], '203.0.113.7'],
    ['exim helo= comment is not TCP-info', ['from [203.0.113.8] (helo=[6.6.6.6]) by mx.corp.example with esmtp'], null],
    ['another server\'s header', ['from a (a [203.0.113.5]) by relay.evil.example with SMTP'], null],
    ['internal hop first, then the edge', ['from mx.corp.example (localhost [127.0.0.1]) by mx.corp.example with LMTP', 'from mail.evil.example (mail.evil.example [203.0.113.10]) by mx.corp.example with ESMTP'], '203.0.113.10'],
    ['private and link-local only', ['from a (a [10.1.2.3]) by mx.corp.example', 'from b (b [169.254.169.254]) by mx.corp.example'], null],
    ['a forged trusted header below the real one loses', ['from mail.evil.example (mail.evil.example [203.0.113.11]) by mx.corp.example', 'from x (x [192.0.2.99]) by mx.corp.example'], '203.0.113.11'],
    ['an IPv4-mapped literal is its IPv4 address', ['from a (a [IPv6:::ffff:203.0.113.12]) by mx.corp.example'], '203.0.113.12'],
    ['a mapped loopback is loopback', ['from a (a [IPv6:::ffff:127.0.0.1]) by mx.corp.example'], null],
    ['not an IP', ['from a (a [999.1.1.1]) by mx.corp.example'], null],
    ['none', [], null],
  ];
  for (const [name, received, want] of cases) assert.equal(connectingIp(lines(...received), AUTHSERV), want, name);
});

test('connecting IP: hostile Received headers are read in linear time', () => {
  const long = 'from ' + 'a'.repeat(200) + ' (' + '['.repeat(100_000) + ' by mx.corp.example';
  const many = Array.from({ length: 5000 }, () => `from x (x [${'9'.repeat(40)}]) by ${' '.repeat(100)}by mx.corp.example`);
  const started = process.hrtime.bigint();
  assert.equal(connectingIp(lines(long, ...many), AUTHSERV), null);
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 1000);
});
