// The one program in a task's network sidecar. It runs (as plain JavaScript, on the host's own
// node binary mounted read-only) inside a network namespace that has nothing but loopback, which
// the task container joins. It is the only thing listening there:
//
//   127.0.0.1:80, :443, :3128 (and ::1) → the conversation proxy's Unix sockets in /run/airut
//   127.0.0.1:53/udp → a DNS responder that answers allowlisted names with 127.0.0.1 and every
//                      other name with NXDOMAIN; it never forwards a query anywhere
//
// Plain JavaScript with no imports beyond node: it runs outside the project's TypeScript loader.
// When everything listens it writes /run/airut/ready, which the daemon waits for.
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';

const DIR = '/run/airut';
const config = JSON.parse(fs.readFileSync(`${DIR}/sidecar.json`, 'utf8'));
const patterns = config.hostPatterns.map(globToRegExp);

const FORWARDS = [
  [80, `${DIR}/http.sock`],
  [443, `${DIR}/tls.sock`],
  [3128, `${DIR}/proxy.sock`],
];

function globToRegExp(pattern) {
  let src = '^';
  for (const ch of pattern) {
    if (ch === '*') src += '.*';
    else if (ch === '?') src += '.';
    else src += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${src}$`, 'i');
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

function forwarder(socketPath) {
  return net.createServer((client) => {
    const upstream = net.connect(socketPath);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
}

// --- DNS ---------------------------------------------------------------------------------------

function readName(msg, offset) {
  const labels = [];
  let pos = offset;
  for (let guard = 0; guard < 128; guard++) {
    if (pos >= msg.length) return null;
    const n = msg[pos];
    if (n === 0) return { name: labels.join('.'), end: pos + 1 };
    if (n > 63) return null; // compression is not used in questions
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + n));
    pos += 1 + n;
  }
  return null;
}

function answer(query) {
  if (query.length < 12) return null;
  const flags = query.readUInt16BE(2);
  if (flags & 0x8000) return null; // a response, not a query
  const qdcount = query.readUInt16BE(4);
  if (qdcount !== 1) return header(query, 1 /* FORMERR */, Buffer.alloc(0), 0, 0);
  const q = readName(query, 12);
  if (!q || q.end + 4 > query.length) return header(query, 1, Buffer.alloc(0), 0, 0);
  const question = query.subarray(12, q.end + 4);
  const qtype = query.readUInt16BE(q.end);
  const name = q.name.replace(/\.$/, '');
  const listed = patterns.some((re) => re.test(name));
  if (!listed) return header(query, 3 /* NXDOMAIN */, question, 1, 0);
  if (qtype !== 1 /* A */) return header(query, 0, question, 1, 0); // NODATA: use IPv4
  const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
  return header(query, 0, Buffer.concat([question, rr]), 1, 1);
}

function header(query, rcode, body, qd, an) {
  const h = Buffer.alloc(12);
  query.copy(h, 0, 0, 2); // id
  const rd = query.readUInt16BE(2) & 0x0100;
  h.writeUInt16BE(0x8000 | 0x0400 | rd | 0x0080 | rcode, 2); // QR, AA, RD copied, RA
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  return Buffer.concat([h, body]);
}

const dnsServer = dgram.createSocket('udp4');
dnsServer.on('message', (msg, rinfo) => {
  try {
    const reply = answer(msg);
    if (reply) dnsServer.send(reply, rinfo.port, rinfo.address);
  } catch {
    /* a malformed query gets no answer */
  }
});
dnsServer.on('error', (err) => {
  console.error(`dns: ${err.message}`);
});

async function main() {
  for (const [port, socketPath] of FORWARDS) {
    await listen(forwarder(socketPath), port, '127.0.0.1');
    await listen(forwarder(socketPath), port, '::1').catch(() => undefined); // no IPv6 loopback: fine
  }
  await new Promise((resolve, reject) => {
    dnsServer.once('error', reject);
    dnsServer.bind(53, '127.0.0.1', () => resolve());
  });
  fs.writeFileSync(`${DIR}/ready`, String(process.pid));
}

process.on('SIGTERM', () => process.exit(0));
main().catch((err) => {
  console.error(`network sidecar failed to start: ${err.message}`);
  process.exit(1);
});
