/**
 * A throwaway certificate authority for test upstream servers (HTTPS servers that stand in for
 * api.github.com and the like). Built with the same X.509 code as the daemon's CA, but a separate
 * key: the daemon trusts it only through NODE_EXTRA_CA_CERTS, as an operator's proxy would trust a
 * company CA.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCaCertificate, createLeafCertificate, generateKey } from '../../src/proxy/x509.ts';

export interface TestTls {
  /** PEM of the CA, for clients (and for the daemon's NODE_EXTRA_CA_CERTS). */
  readonly caPem: string;
  readonly caPath: string;
  /** Key and certificate chain for a server answering to `hosts` (one certificate per host). */
  serverOptions(host: string): { key: string; cert: string };
}

export function createTestTls(): TestTls {
  const ca = generateKey();
  const caPem = createCaCertificate(ca, 'airut test upstream CA');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airut-test-ca-'));
  const caPath = path.join(dir, 'ca.pem');
  fs.writeFileSync(caPath, caPem);
  const leaf = generateKey();
  const key = leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return {
    caPem,
    caPath,
    serverOptions(host) {
      const cert = createLeafCertificate(host, leaf.publicKey, { key: ca, certificatePem: caPem, commonName: 'airut test upstream CA' });
      return { key, cert };
    },
  };
}
