/**
 * Just enough X.509 to mint the proxy's certificates: a self-signed CA and leaf certificates for
 * the host names a container connects to. Keys are ECDSA P-256 and signing is Node's native
 * crypto, so minting a certificate takes about a millisecond (a pure-JS RSA library takes tens to
 * hundreds). Node can parse certificates (`X509Certificate`) but not build them; the DER encoding
 * below covers exactly the fields we write and nothing else.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

// --- DER ----------------------------------------------------------------------------------------

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), len(content.length), content]);
}
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);
const octets = (b: Buffer) => tlv(0x04, b);
const bitString = (b: Buffer, unusedBits = 0) => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), b]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));

function integer(value: Buffer | number): Buffer {
  let b = typeof value === 'number' ? Buffer.from([value]) : value;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function time(d: Date): Buffer {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const body = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const y = d.getUTCFullYear();
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  return y < 2050 ? tlv(0x17, Buffer.from(`${p(y % 100)}${body}`)) : tlv(0x18, Buffer.from(`${p(y, 4)}${body}`));
}

function name(commonName: string, organization: string): Buffer {
  return seq(set(seq(oid('2.5.4.10'), utf8(organization))), set(seq(oid('2.5.4.3'), utf8(commonName))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

// --- certificates -------------------------------------------------------------------------------

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function generateKey(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function keyId(publicKey: KeyObject): Buffer {
  // RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. The SPKI DER of a P-256 key ends with them.
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

interface CertSpec {
  readonly subject: Buffer;
  readonly issuer: Buffer;
  readonly publicKey: KeyObject;
  readonly signingKey: KeyObject;
  readonly issuerKeyId: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: Buffer[];
}

function certificate(spec: CertSpec): Buffer {
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f || 0x01;
  const tbs = seq(
    explicit(0, integer(2)),
    integer(serial),
    ECDSA_WITH_SHA256,
    spec.issuer,
    seq(time(spec.notBefore), time(spec.notAfter)),
    spec.subject,
    spec.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      seq(
        ...spec.extensions,
        extension('2.5.29.14', false, octets(keyId(spec.publicKey))),
        extension('2.5.29.35', false, seq(tlv(0x80, spec.issuerKeyId))),
      ),
    ),
  );
  const signature = sign('sha256', tbs, spec.signingKey);
  return seq(tbs, ECDSA_WITH_SHA256, bitString(signature));
}

export function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

const DAY = 86_400_000;

/** A self-signed CA certificate (10 years), allowed to sign leaf certificates only. */
export function createCaCertificate(key: KeyPair, commonName: string, now = new Date()): string {
  const subject = name(commonName, 'airut-ts');
  return toPem(
    certificate({
      subject,
      issuer: subject,
      publicKey: key.publicKey,
      signingKey: key.privateKey,
      issuerKeyId: keyId(key.publicKey),
      notBefore: new Date(now.getTime() - DAY),
      notAfter: new Date(now.getTime() + 3650 * DAY),
      extensions: [
        extension('2.5.29.19', true, seq(bool(true), integer(0))),
        // keyCertSign, cRLSign, digitalSignature
        extension('2.5.29.15', true, bitString(Buffer.from([0x86]), 1)),
      ],
    }),
  );
}

/** A server certificate for one host name or IP address, signed by the CA (90 days). */
export function createLeafCertificate(
  host: string,
  leafPublicKey: KeyObject,
  ca: { key: KeyPair; certificatePem: string; commonName: string },
  now = new Date(),
): string {
  const san =
    isIP(host) === 4
      ? tlv(0x87, Buffer.from(host.split('.').map(Number)))
      : tlv(0x82, Buffer.from(host, 'ascii'));
  return toPem(
    certificate({
      subject: name(host, 'airut-ts sandbox proxy'),
      issuer: name(ca.commonName, 'airut-ts'),
      publicKey: leafPublicKey,
      signingKey: ca.key.privateKey,
      issuerKeyId: keyId(ca.key.publicKey),
      notBefore: new Date(now.getTime() - DAY),
      notAfter: new Date(now.getTime() + 90 * DAY),
      extensions: [
        extension('2.5.29.19', true, seq()),
        extension('2.5.29.15', true, bitString(Buffer.from([0x80]), 7)),
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))),
        extension('2.5.29.17', false, seq(san)),
      ],
    }),
  );
}
