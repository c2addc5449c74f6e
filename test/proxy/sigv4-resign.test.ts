/**
 * SigV4 re-signing against AWS's published examples (Amazon S3 API reference, "Signature
 * Calculations for the Authorization Header" and "Authenticating Requests: Using Query
 * Parameters"): a request signed with this task's surrogate comes out with exactly the signature
 * AWS documents for the real example keys. Plus surrogates, scopes, and the bad inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { resignSigV4, parseAuthorization, type ResignInput } from '../../src/proxy/sigv4-resign.ts';
import { buildSigningRules, signingSurrogateEnv, SESSION_TOKEN_SURROGATE_LENGTH, type SigningRule } from '../../src/proxy/sigv4-surrogates.ts';

const REAL_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const REAL_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

function rules(sessionToken: string | null = null, scopes = ['*.amazonaws.com', 's3.amazonaws.com']): SigningRule[] {
  return buildSigningRules(
    {
      AWS: {
        type: 'aws-sigv4',
        accessKeyId: { name: 'AWS_ACCESS_KEY_ID', value: REAL_KEY_ID },
        secretAccessKey: { name: 'AWS_SECRET_ACCESS_KEY', value: REAL_SECRET },
        sessionToken: sessionToken === null ? null : { name: 'AWS_SESSION_TOKEN', value: sessionToken },
        scopes,
      },
    },
  );
}

const SURROGATE_SIG = 'a'.repeat(64);
function auth(keyId: string, scope: string, signed: string): string {
  return `AWS4-HMAC-SHA256 Credential=${keyId}/${scope}, SignedHeaders=${signed}, Signature=${SURROGATE_SIG}`;
}
const signatureOf = (authorization: unknown): string => /Signature=([0-9a-f]{64})$/.exec(String(authorization))![1]!;

test('surrogates keep the shape of the real values and are new for every task', () => {
  const [r] = rules('FwoGZXIvYXdzEJr//////////wEaDOL');
  assert.match(r!.accessKeyId.surrogate, /^AKIA[A-Z2-7]{16}$/);
  assert.notEqual(r!.accessKeyId.surrogate, REAL_KEY_ID);
  assert.match(r!.secretAccessKey.surrogate, /^[A-Za-z0-9+/]{40}$/);
  assert.equal(r!.sessionToken!.surrogate.length, SESSION_TOKEN_SURROGATE_LENGTH);
  assert.notEqual(rules('FwoGZXIvYXdzEJr//////////wEaDOL')[0]!.secretAccessKey.surrogate, r!.secretAccessKey.surrogate, 'another task gets other surrogates');
  const other = buildSigningRules({ AWS: { type: 'aws-sigv4', accessKeyId: { name: 'A', value: 'ASIAIOSFODNN7EXAMPLE' }, secretAccessKey: { name: 'S', value: REAL_SECRET }, sessionToken: null, scopes: [] } })[0]!;
  assert.match(other.accessKeyId.surrogate, /^ASIA/);
  assert.notEqual(other.secretAccessKey.surrogate, r!.secretAccessKey.surrogate);
  assert.deepEqual(Object.keys(signingSurrogateEnv([r!])).sort(), ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);
  assert.equal(signingSurrogateEnv([r!])['AWS_ACCESS_KEY_ID'], r!.accessKeyId.surrogate);
});

test('AWS example GET Object: re-signed to the documented signature', async () => {
  const r = rules();
  const headers = {
    host: 'examplebucket.s3.amazonaws.com',
    range: 'bytes=0-9',
    'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'x-amz-date': '20130524T000000Z',
    authorization: auth(r[0]!.accessKeyId.surrogate, '20130524/us-east-1/s3/aws4_request', 'host;range;x-amz-content-sha256;x-amz-date'),
  };
  const out = await resignSigV4(r, { host: 'examplebucket.s3.amazonaws.com', method: 'GET', pathAndQuery: '/test.txt', headers });
  assert.equal(out.error, null);
  assert.equal(out.signed, true);
  assert.equal(
    headers.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  );
});

test('AWS example PUT Object: signed Date header and a path S3 encodes once ($ → %24)', async () => {
  const r = rules();
  const headers = {
    host: 'examplebucket.s3.amazonaws.com',
    date: 'Fri, 24 May 2013 00:00:00 GMT',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
    authorization: auth(r[0]!.accessKeyId.surrogate, '20130524/us-east-1/s3/aws4_request', 'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class'),
  };
  const out = await resignSigV4(r, { host: 'examplebucket.s3.amazonaws.com', method: 'PUT', pathAndQuery: '/test$file.text', headers });
  assert.equal(out.error, null);
  assert.equal(signatureOf(headers.authorization), '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
});

test('AWS examples with queries: GET ?lifecycle and GET ?max-keys=2&prefix=J', async () => {
  const r = rules();
  const cases = [
    { pathAndQuery: '/?lifecycle', expected: 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543' },
    { pathAndQuery: '/?max-keys=2&prefix=J', expected: '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7' },
  ];
  for (const c of cases) {
    const headers = {
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      authorization: auth(r[0]!.accessKeyId.surrogate, '20130524/us-east-1/s3/aws4_request', 'host;x-amz-content-sha256;x-amz-date'),
    };
    const out = await resignSigV4(r, { host: 'examplebucket.s3.amazonaws.com', method: 'GET', pathAndQuery: c.pathAndQuery, headers });
    assert.equal(out.error, null, c.pathAndQuery);
    assert.equal(signatureOf(headers.authorization), c.expected, c.pathAndQuery);
  }
});

test('AWS example presigned GET: credential and signature in the query are replaced', async () => {
  const r = rules();
  const s = r[0]!.accessKeyId.surrogate;
  const pathAndQuery = `/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${s}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=${SURROGATE_SIG}`;
  const out = await resignSigV4(r, { host: 'examplebucket.s3.amazonaws.com', method: 'GET', pathAndQuery, headers: { host: 'examplebucket.s3.amazonaws.com' } });
  assert.equal(out.error, null);
  assert.equal(out.signed, true);
  const q = new URLSearchParams(out.pathAndQuery.split('?')[1]);
  assert.equal(q.get('X-Amz-Credential'), 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request');
  assert.equal(q.get('X-Amz-Signature'), 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
  assert.ok(out.pathAndQuery.startsWith('/test.txt?'));
});

test('AWS example chunked upload: seed and every chunk signature match the documented ones', async () => {
  const r = rules();
  const headers = {
    host: 's3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560',
    'content-length': '66824',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    authorization: auth(r[0]!.accessKeyId.surrogate, '20130524/us-east-1/s3/aws4_request', 'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class'),
  };
  const out = await resignSigV4(r, { host: 's3.amazonaws.com', method: 'PUT', pathAndQuery: '/examplebucket/chunkObject.txt', headers });
  assert.equal(out.error, null);
  assert.equal(signatureOf(headers.authorization), '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
  const fake = 'f'.repeat(64);
  const body = Buffer.concat([
    Buffer.from(`10000;chunk-signature=${fake}\r\n`),
    Buffer.alloc(65536, 'a'),
    Buffer.from(`\r\n400;chunk-signature=${fake}\r\n`),
    Buffer.alloc(1024, 'a'),
    Buffer.from(`\r\n0;chunk-signature=${fake}\r\n\r\n`),
  ]);
  // Fed in awkward pieces, as TCP delivers them.
  const pieces: Buffer[] = [];
  for (let at = 0; at < body.length; at += 999) pieces.push(body.subarray(at, at + 999));
  const parts: Buffer[] = [];
  for await (const p of Readable.from(pieces).pipe(out.body!)) parts.push(p as Buffer);
  const text = Buffer.concat(parts).toString('latin1');
  assert.equal(Buffer.concat(parts).length, body.length);
  assert.deepEqual(
    [...text.matchAll(/chunk-signature=([0-9a-f]{64})/g)].map((m) => m[1]),
    ['ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648', '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497', 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'],
  );
});

test('a body that is not aws-chunked as declared ends the stream with an error', async () => {
  const r = rules();
  const headers = {
    host: 's3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    authorization: auth(r[0]!.accessKeyId.surrogate, '20130524/us-east-1/s3/aws4_request', 'host;x-amz-content-sha256;x-amz-date'),
  };
  for (const body of ['hello world\r\n', `5;chunk-signature=${'0'.repeat(64)}\r\nhello`, `5;chunk-signature=${'0'.repeat(64)}\r\nhello!!\r\n`]) {
    const out = await resignSigV4(r, { host: 's3.amazonaws.com', method: 'PUT', pathAndQuery: '/b/k', headers: { ...headers } });
    await assert.rejects(
      (async () => {
        for await (const _ of Readable.from([Buffer.from(body)]).pipe(out.body!)) void _;
      })(),
      /aws-chunked/,
    );
  }
});

test('session token: the surrogate header becomes the real token before signing', async () => {
  const r = rules('REAL-SESSION-TOKEN');
  const headers: Record<string, string> = {
    host: 'b.s3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    'x-amz-security-token': r[0]!.sessionToken!.surrogate,
    authorization: auth(r[0]!.accessKeyId.surrogate, '20130524/us-east-1/s3/aws4_request', 'host;x-amz-content-sha256;x-amz-date;x-amz-security-token'),
  };
  const out = await resignSigV4(r, { host: 'b.s3.amazonaws.com', method: 'GET', pathAndQuery: '/k', headers });
  assert.equal(out.signed, true);
  assert.equal(headers['x-amz-security-token'], 'REAL-SESSION-TOKEN');
  assert.ok(headers.authorization!.startsWith(`AWS4-HMAC-SHA256 Credential=${REAL_KEY_ID}/`));
});

test('a body without x-amz-content-sha256 is read and hashed (curl, non-S3 SDKs)', async () => {
  const r = rules();
  const headers: Record<string, string> = {
    host: 'sqs.us-east-1.amazonaws.com',
    'content-length': '5',
    'x-amz-date': '20130524T000000Z',
    authorization: auth(r[0]!.accessKeyId.surrogate, '20130524/us-east-1/sqs/aws4_request', 'host;x-amz-date'),
  };
  const out = await resignSigV4(r, { host: 'sqs.us-east-1.amazonaws.com', method: 'POST', pathAndQuery: '/', headers, body: Readable.from([Buffer.from('hello')]) });
  assert.equal(out.error, null);
  assert.equal(out.bytes?.toString(), 'hello');
  assert.equal(out.signed, true);
});

test('left alone: another key id, an unscoped host, no AWS signature', async () => {
  const r = rules();
  const base = { 'x-amz-date': '20130524T000000Z', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  const cases: ResignInput[] = [
    { host: 'b.s3.amazonaws.com', method: 'GET', pathAndQuery: '/', headers: { ...base, host: 'b.s3.amazonaws.com', authorization: auth('AKIAOTHERKEY00000000', '20130524/us-east-1/s3/aws4_request', 'host;x-amz-date') } },
    { host: 'storage.example.com', method: 'GET', pathAndQuery: '/', headers: { ...base, host: 'storage.example.com', authorization: auth(r[0]!.accessKeyId.surrogate, '20130524/us-east-1/s3/aws4_request', 'host;x-amz-date') } },
    { host: 'b.s3.amazonaws.com', method: 'GET', pathAndQuery: '/', headers: { ...base, host: 'b.s3.amazonaws.com', authorization: 'Bearer abc' } },
  ];
  for (const input of cases) {
    const before = JSON.stringify(input.headers);
    const out = await resignSigV4(r, input);
    assert.deepEqual([out.signed, out.error], [false, null], input.host);
    assert.equal(JSON.stringify(input.headers), before);
  }
});

test('bad inputs with this task surrogate: a clear error, and the request goes out unchanged', async () => {
  const r = rules();
  const s = r[0]!.accessKeyId.surrogate;
  const scope = '20130524/us-east-1/s3/aws4_request';
  const ok = { host: 'b.s3.amazonaws.com', 'x-amz-date': '20130524T000000Z', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  const cases: Array<[Record<string, string>, string, RegExp]> = [
    [{ ...ok, 'x-amz-date': 'yesterday', authorization: auth(s, scope, 'host;x-amz-date') }, '/', /x-amz-date header is missing or not of the form/],
    [{ ...ok, 'x-amz-date': '20200101T000000Z', authorization: auth(s, scope, 'host;x-amz-date') }, '/', /not on the credential scope's date/],
    [{ ...ok, authorization: auth(s, scope, 'host;x-amz-date;x-custom') }, '/', /signed header x-custom is not in the request/],
    [{ ...ok, 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD', authorization: auth(s, scope, 'host;x-amz-date') }, '/', /SigV4A is not/],
    [{ ...ok, authorization: auth(s, scope, 'host;x-amz-date') }, '/bad%zz', /malformed percent-encoding/],
    [{ ...ok, 'content-length': String(64 * 1024 * 1024), 'x-amz-content-sha256': '', authorization: auth(s, scope, 'host;x-amz-date') }, '/', /hashes at most/],
    [{ host: ok.host }, `/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${s}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00`, /X-Amz-Expires/],
    [{ host: ok.host }, `/k?X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256&X-Amz-Credential=${s}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00`, /SigV4A is not supported/],
  ];
  for (const [headers, pathAndQuery, error] of cases) {
    if (headers['x-amz-content-sha256'] === '') delete headers['x-amz-content-sha256'];
    const before = headers.authorization;
    const out = await resignSigV4(r, { host: ok.host, method: 'PUT', pathAndQuery, headers });
    assert.equal(out.signed, false, pathAndQuery);
    assert.match(String(out.error), error);
    assert.match(String(out.error), /^could not re-sign the AWS request: /);
    assert.equal(headers.authorization, before);
    assert.equal(out.pathAndQuery, pathAndQuery);
  }
});

test('parseAuthorization takes only well-formed SigV4 headers', () => {
  assert.equal(parseAuthorization('AWS4-HMAC-SHA256 Credential=AKIA/20130524/us-east-1/s3, SignedHeaders=host, Signature=ab'), null);
  assert.equal(parseAuthorization('AWS4-HMAC-SHA256 Credential=AKIA/20130524/us-east-1/s3/aws4_request, Signature=ab'), null);
  assert.equal(parseAuthorization('AWS4-ECDSA-P256-SHA256 Credential=AKIA/20130524/s3/aws4_request, SignedHeaders=host, Signature=ab'), null);
  assert.deepEqual(parseAuthorization('AWS4-HMAC-SHA256 Credential=AKIA/20130524/eu-west-1/s3/aws4_request,SignedHeaders=Host;X-Amz-Date,Signature=ab')?.signedHeaders, ['host', 'x-amz-date']);
});
