/**
 * The daemon's own certificate authority for the sandbox proxy. Generated once, kept next to the
 * database (`<state>/sandbox/ca/`), private key readable by the daemon's user only. Containers
 * get the certificate (never the key) and trust it, so the proxy can terminate their TLS and check
 * paths and methods inside it.
 *
 * Leaf certificates are minted on demand per host name and kept in memory; one leaf key serves
 * every host of a process, which is fine: the key never leaves the daemon.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { AirutError } from '../errors.ts';
import { createCaCertificate, createLeafCertificate, generateKey, type KeyPair } from './x509.ts';

export const CA_COMMON_NAME = 'airut-ts sandbox proxy CA';
const CERT_FILE = 'ca-cert.pem';
const KEY_FILE = 'ca-key.pem';
const LEAF_CACHE_LIMIT = 2_000;

export interface CaFiles {
  readonly certPath: string;
  readonly keyPath: string;
}

/** Creates the CA in `dir` if it is not there yet; returns the file paths. */
export function ensureCaFiles(dir: string): CaFiles {
  const certPath = path.join(dir, CERT_FILE);
  const keyPath = path.join(dir, KEY_FILE);
  if (fs.existsSync(certPath) && fs.existsSync(keyPath)) {
    const cert = new X509Certificate(fs.readFileSync(certPath));
    if (new Date(cert.validTo).getTime() - Date.now() > 30 * 86_400_000) return { certPath, keyPath };
    // Within 30 days of expiry: make a new one rather than let tasks fail on a date.
  }
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = generateKey();
    const pem = createCaCertificate(key, CA_COMMON_NAME);
    // Key first, then certificate: a crash in between leaves no certificate without its key.
    writeFileAtomic(keyPath, key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    writeFileAtomic(certPath, pem, 0o644);
  } catch (err) {
    throw new AirutError('SANDBOX_CA_FAILED', `could not create the sandbox proxy CA in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  return { certPath, keyPath };
}

function writeFileAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode });
  fs.renameSync(tmp, file);
}

export class CertificateAuthority {
  readonly certificatePem: string;
  private readonly key: KeyPair;
  private readonly leafKey = generateKey();
  private readonly leafKeyPem: string;
  private readonly contexts = new Map<string, SecureContext>();

  private constructor(certificatePem: string, key: KeyPair) {
    this.certificatePem = certificatePem;
    this.key = key;
    this.leafKeyPem = this.leafKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  }

  static load(files: CaFiles): CertificateAuthority {
    try {
      const certificatePem = fs.readFileSync(files.certPath, 'utf8');
      const privateKey = createPrivateKey(fs.readFileSync(files.keyPath));
      return new CertificateAuthority(certificatePem, { privateKey, publicKey: createPublicKey(privateKey) });
    } catch (err) {
      throw new AirutError('SANDBOX_CA_FAILED', `could not read the sandbox proxy CA (${files.certPath}): ${(err as Error).message}`, { cause: err });
    }
  }

  /** A TLS context presenting a certificate for `host`, minted on first use. */
  contextFor(host: string): SecureContext {
    const h = host.toLowerCase();
    let ctx = this.contexts.get(h);
    if (ctx) {
      // Refresh its place in the LRU order.
      this.contexts.delete(h);
      this.contexts.set(h, ctx);
      return ctx;
    }
    const cert = createLeafCertificate(h, this.leafKey.publicKey, {
      key: this.key,
      certificatePem: this.certificatePem,
      commonName: CA_COMMON_NAME,
    });
    ctx = createSecureContext({ key: this.leafKeyPem, cert: cert + this.certificatePem });
    if (this.contexts.size >= LEAF_CACHE_LIMIT) this.contexts.delete(this.contexts.keys().next().value!);
    this.contexts.set(h, ctx);
    return ctx;
  }
}
