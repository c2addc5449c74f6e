/**
 * A throwaway certificate authority for test servers: HTTPS servers that stand in for api.github.com and the like,
 * and the IMAP (Dovecot) and SMTP servers of the mail tests. Built with the same X.509 code as the daemon's CA, but a
 * separate key: the daemon trusts it only through NODE_EXTRA_CA_CERTS or a repository's `tls.ca_file`, as an
 * operator's client would trust a company CA. Create a second one for the "unknown CA" case: nothing trusts it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCaCertificate, createLeafCertificate, generateKey } from '../../src/proxy/x509.ts';

/** A server's key and certificate, as PEM and as files (Dovecot reads `ssl_cert = </path`). */
export interface ServerCertFiles {
  readonly key: string;
  readonly cert: string;
  readonly keyPath: string;
  readonly certPath: string;
}

export interface TestTls {
  /** The CA's common name (distinct per CA, so a test can tell two CAs apart in an error). */
  readonly commonName: string;
  /** PEM of the CA, for clients (and for the daemon's NODE_EXTRA_CA_CERTS). */
  readonly caPem: string;
  /** The CA's PEM as a file (the kind of path `tls.ca_file` takes). */
  readonly caPath: string;
  /** The directory holding the CA file and every file written by writeServerFiles(); removed by remove(). */
  readonly dir: string;
  /**
   * Key and certificate for a server answering to `host` (one name or one IPv4, which gets an IP SAN). A certificate
   * made for `wrong-host.test` but served on 127.0.0.1 is the wrong-host case.
   */
  serverOptions(host: string): { key: string; cert: string };
  /** Like serverOptions(), and writes the key (mode 0600) and certificate to files in `dir`. */
  writeServerFiles(host: string): ServerCertFiles;
  /** Deletes `dir`. Safe to call twice. */
  remove(): void;
}

const DEFAULT_NAME = 'airut test upstream CA';

/** A new CA with its own key. `commonName` tells CAs apart (e.g. 'airut test unknown CA' for the untrusted one). */
export function createTestTls(commonName = DEFAULT_NAME): TestTls {
  const ca = generateKey();
  const caPem = createCaCertificate(ca, commonName);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-test-ca-'));
  const caPath = path.join(dir, 'ca.pem');
  fs.writeFileSync(caPath, caPem);
  const leaf = generateKey();
  const key = leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const serverOptions = (host: string): { key: string; cert: string } => {
    const cert = createLeafCertificate(host, leaf.publicKey, { key: ca, certificatePem: caPem, commonName });
    return { key, cert };
  };
  let written = 0;
  return {
    commonName,
    caPem,
    caPath,
    dir,
    serverOptions,
    writeServerFiles(host) {
      const pair = serverOptions(host);
      const base = `${host.replace(/[^A-Za-z0-9.-]/g, '_')}-${written++}`;
      const keyPath = path.join(dir, `${base}.key`);
      const certPath = path.join(dir, `${base}.crt`);
      fs.writeFileSync(keyPath, pair.key, { mode: 0o600 });
      fs.writeFileSync(certPath, pair.cert);
      return { ...pair, keyPath, certPath };
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
