/** What a failed connection attempt means for the next one: renew the token once, wait for a fix, or ordinary backoff. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyLoginFailure } from '../../src/listener/login-failure.ts';
import { OAuth2TokenError } from '../../src/mail-account/oauth2-token-source.ts';

const refused = Object.assign(new Error('Command failed'), { authenticationFailed: true, responseText: 'AUTHENTICATIONFAILED' });
const unavailable = Object.assign(new Error('Command failed'), { authenticationFailed: true, serverResponseCode: 'UNAVAILABLE' });
const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
const provider = (status: number | null, error: string | null) => new OAuth2TokenError('the provider said no', error, status);

test('classifyLoginFailure: a table of failures, login methods and whether the token was just renewed', () => {
  const cases: Array<[string, unknown, 'password' | 'oauth2', boolean, string]> = [
    ['refused token, first time', refused, 'oauth2', false, 'renew-token'],
    ['refused token, right after renewing it', refused, 'oauth2', true, 'needs-fix'],
    ['refused password', refused, 'password', false, 'needs-fix'],
    ['revoked grant (400 invalid_grant)', provider(400, 'invalid_grant'), 'oauth2', false, 'needs-fix'],
    ['bad secret (401 invalid_client)', provider(401, 'invalid_client'), 'oauth2', true, 'needs-fix'],
    ['token_url is a web page (200, not JSON)', provider(200, null), 'oauth2', false, 'needs-fix'],
    ['provider down (503)', provider(503, 'temporarily_unavailable'), 'oauth2', false, 'transient'],
    ['provider rate limit (429)', provider(429, null), 'oauth2', false, 'transient'],
    ['token endpoint timeout', provider(null, null), 'oauth2', false, 'transient'],
    ['server cannot check logins just now ([UNAVAILABLE])', unavailable, 'oauth2', true, 'transient'],
    ['connection reset', reset, 'oauth2', false, 'transient'],
    ['connection reset, password', reset, 'password', false, 'transient'],
    ['not an Error at all', 'boom', 'password', false, 'transient'],
  ];
  for (const [name, err, method, renewed, expected] of cases) {
    assert.equal(classifyLoginFailure(err, method, renewed), expected, name);
  }
  // A certificate the client cannot verify, or STARTTLS not offered, lasts until someone changes
  // the configuration or the server: the error state, not the network backoff.
  const endpoint = { protocol: 'IMAP', configPath: 'repos.api.email', host: 'mail.example.com', port: 993, security: 'tls' } as const;
  const unknownCa = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  const wrongHost = Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  const noStarttls = Object.assign(new Error('Server does not support STARTTLS'), { tlsFailed: true });
  assert.equal(classifyLoginFailure(unknownCa, 'password', false, endpoint), 'needs-fix');
  assert.equal(classifyLoginFailure(wrongHost, 'oauth2', false, endpoint), 'needs-fix');
  assert.equal(classifyLoginFailure(noStarttls, 'password', false, { ...endpoint, security: 'starttls', port: 143 }), 'needs-fix');
  assert.equal(classifyLoginFailure(reset, 'password', false, endpoint), 'transient');
});
