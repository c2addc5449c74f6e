import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopbackHost, defaultSecurityForPort } from '../../src/config/network.ts';
import { messageAt, parse, problemsOf, setIn, toYaml, validConfig } from './fixtures/configs.ts';

function emailOf(changes: Record<string, unknown>) {
  const tree = validConfig();
  for (const [key, value] of Object.entries(changes)) setIn(tree, ['repos', 'api', 'email', key], value);
  return parse(toYaml(tree)).repos.api!.email;
}

test('security defaults follow the port: 993 and 465 are TLS, others STARTTLS', () => {
  assert.deepEqual(
    [993, 465, 143, 587, 25, 2525].map(defaultSecurityForPort),
    ['tls', 'tls', 'starttls', 'starttls', 'starttls', 'starttls'],
  );
  const email = emailOf({ imap_port: 143, smtp_port: 465 });
  assert.equal(email.imapSecurity, 'starttls');
  assert.equal(email.smtpSecurity, 'tls');
});

test('an explicit security setting wins over the port default', () => {
  const email = emailOf({ imap_port: 993, imap_security: 'starttls', smtp_port: 2465, smtp_security: 'tls' });
  assert.equal(email.imapSecurity, 'starttls');
  assert.equal(email.smtpSecurity, 'tls');
});

test('none is refused for a host that is not loopback, and the message says why', () => {
  const problems = problemsOf(toYaml(setIn(setIn(validConfig(), ['repos', 'api', 'email', 'imap_security'], 'none'), ['repos', 'api', 'email', 'smtp_security'], 'none')));
  const imap = messageAt(problems, 'repos.api.email.imap_security');
  assert.match(imap, /only allowed when imap_server is a loopback address/);
  assert.match(imap, /plain text/);
  assert.match(messageAt(problems, 'repos.api.email.smtp_security'), /smtp_server is a loopback address/);
});

test('none is accepted on loopback hosts', () => {
  for (const host of ['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', '::1', '[::1]']) {
    const email = emailOf({ imap_server: host, smtp_server: host, imap_port: 10143, imap_security: 'none', smtp_port: 10025, smtp_security: 'none' });
    assert.equal(email.imapSecurity, 'none', host);
    assert.equal(email.smtpSecurity, 'none', host);
  }
});

test('loopback detection does not trust look-alikes', () => {
  for (const host of ['128.0.0.1', '10.0.0.1', 'localhost.example.com', 'my-localhost', '::2', '0.0.0.0', 'mail.example.com']) {
    assert.equal(isLoopbackHost(host), false, host);
  }
  assert.equal(isLoopbackHost('::ffff:127.0.0.1'), true);
});
