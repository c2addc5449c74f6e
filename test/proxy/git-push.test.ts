import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptedPushRefs, isGitPushRequest, parsePushRequest, parseReportStatus, pushRepoPath, readPktLines } from '../../src/proxy/git-push.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);

function pkt(text: string | Buffer): Buffer {
  const body = typeof text === 'string' ? Buffer.from(text) : text;
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), body]);
}
const FLUSH = Buffer.from('0000');
const PACK = Buffer.from('PACK\0\0\0\x02garbage that follows the commands');

function request(lines: string[], caps = 'report-status side-band-64k agent=git/2.43'): Buffer {
  const pkts = lines.map((l, i) => pkt(i === 0 ? `${l}\0${caps}\n` : `${l}\n`));
  return Buffer.concat([...pkts, FLUSH, PACK]);
}
function report(lines: string[]): Buffer {
  return Buffer.concat([...lines.map((l) => pkt(`${l}\n`)), FLUSH]);
}
/** Wraps a body in side-band-64k band 1 (split in two), with a progress message in band 2. */
function sideBand(inner: Buffer): Buffer {
  const half = Math.floor(inner.length / 2);
  return Buffer.concat([
    pkt(Buffer.concat([Buffer.from([2]), Buffer.from('remote: Resolving deltas\n')])),
    pkt(Buffer.concat([Buffer.from([1]), inner.subarray(0, half)])),
    pkt(Buffer.concat([Buffer.from([1]), inner.subarray(half)])),
    FLUSH,
  ]);
}

describe('git push detection', () => {
  it('knows the receive-pack POST and the repository path', () => {
    assert.equal(isGitPushRequest('POST', '/owner/repo.git/git-receive-pack'), true);
    assert.equal(isGitPushRequest('GET', '/owner/repo.git/git-receive-pack'), false);
    assert.equal(isGitPushRequest('POST', '/owner/repo.git/git-upload-pack'), false);
    assert.equal(isGitPushRequest('POST', '/git-receive-pack'), false);
    assert.equal(pushRepoPath('/owner/repo.git/git-receive-pack'), '/owner/repo.git');
  });
});

describe('parsePushRequest', () => {
  it('reads commands, capabilities after NUL, and stops at the flush before the pack', () => {
    const r = parsePushRequest(request([`${Z} ${A} refs/heads/new`, `${A} ${B} refs/heads/main`]));
    assert.deepEqual(r, {
      sideBand: true,
      commands: [
        { oldId: Z, newId: A, ref: 'refs/heads/new' },
        { oldId: A, newId: B, ref: 'refs/heads/main' },
      ],
    });
  });
  it('skips shallow lines and sees a client without side-band', () => {
    const body = Buffer.concat([pkt(`shallow ${B}\n`), request([`${A} ${B} refs/heads/x`], 'report-status')]);
    assert.deepEqual(parsePushRequest(body), { sideBand: false, commands: [{ oldId: A, newId: B, ref: 'refs/heads/x' }] });
  });
  it('accepts SHA-256 object ids', () => {
    const a = 'c'.repeat(64);
    assert.equal(parsePushRequest(request([`${'0'.repeat(64)} ${a} refs/heads/x`]))?.commands[0]?.newId, a);
  });
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['only a flush', FLUSH],
    ['truncated before the flush', request([`${A} ${B} refs/heads/x`]).subarray(0, 30)],
    ['a length that is not hex', Buffer.from('zzzz0000')],
    ['a length of 2', Buffer.from('0002')],
    ['a length over the maximum', Buffer.from('ffff')],
    ['a line that is not a command', Buffer.concat([pkt('hello world\n'), FLUSH])],
    ['an object id that is not hex', request([`${'g'.repeat(40)} ${B} refs/heads/x`])],
    ['a ref outside refs/', request([`${A} ${B} HEAD`])],
    ['capabilities on a second command', Buffer.concat([pkt(`${A} ${B} refs/heads/x\n`), pkt(`${A} ${B} refs/heads/y\0report-status\n`), FLUSH])],
    ['a push certificate', Buffer.concat([pkt('push-cert\0report-status\n'), pkt('certificate version 0.1\n'), FLUSH])],
    ['random bytes', Buffer.from([0x30, 0x30, 0x30, 0x39, 0xff, 0xfe, 0, 1, 2, 3])],
  ];
  for (const [name, body] of bad) it(`gives null for ${name}`, () => assert.equal(parsePushRequest(body), null));
});

describe('parseReportStatus', () => {
  it('reads ok and ng lines, plain and inside side-band', () => {
    const plain = report(['unpack ok', 'ok refs/heads/a', 'ng refs/heads/b non-fast-forward', 'option refname refs/heads/a']);
    assert.deepEqual(parseReportStatus(plain, false), { unpackOk: true, ok: ['refs/heads/a'] });
    assert.deepEqual(parseReportStatus(sideBand(plain), true), { unpackOk: true, ok: ['refs/heads/a'] });
  });
  it('sees a failed unpack', () => {
    assert.deepEqual(parseReportStatus(report(['unpack index-pack abnormal exit', 'ng refs/heads/a unpacker error']), false), { unpackOk: false, ok: [] });
  });
  const bad: Array<[string, Buffer, boolean]> = [
    ['an empty body', Buffer.alloc(0), false],
    ['no unpack line first', report(['ok refs/heads/a']), false],
    ['a report without its flush', report(['unpack ok', 'ok refs/heads/a']).subarray(0, -4), false],
    ['side-band with an error band', Buffer.concat([pkt(Buffer.concat([Buffer.from([3]), Buffer.from('fatal\n')])), FLUSH]), true],
    ['side-band truncated mid-line', sideBand(report(['unpack ok', 'ok refs/heads/a'])).subarray(0, 20), true],
    ['side-band with an unknown band', Buffer.concat([pkt(Buffer.from([9, 1, 2])), FLUSH]), true],
    ['plain report read as side-band', report(['unpack ok', 'ok refs/heads/a']), true],
    ['an HTML error page', Buffer.from('<html>502 Bad Gateway</html>'), false],
  ];
  for (const [name, body, sb] of bad) it(`gives null for ${name}`, () => assert.equal(parseReportStatus(body, sb), null));
});

describe('acceptedPushRefs', () => {
  it('names the refs created or moved that the upstream accepted, not deletions or refused ones', () => {
    const req = request([`${Z} ${A} refs/heads/new`, `${A} ${B} refs/heads/main`, `${A} ${Z} refs/heads/gone`, `${A} ${B} refs/heads/refused`]);
    const res = sideBand(report(['unpack ok', 'ok refs/heads/new', 'ok refs/heads/main', 'ok refs/heads/gone', 'ng refs/heads/refused protected branch']));
    assert.deepEqual(acceptedPushRefs(req, res), ['refs/heads/new', 'refs/heads/main']);
  });
  it('ignores an ok for a ref the client never asked to update', () => {
    const req = request([`${Z} ${A} refs/heads/new`], 'report-status');
    assert.deepEqual(acceptedPushRefs(req, report(['unpack ok', 'ok refs/heads/new', 'ok refs/heads/other'])), ['refs/heads/new']);
  });
  it('records nothing when the unpack failed, the request is hostile, or the answer is not a report', () => {
    const req = request([`${Z} ${A} refs/heads/new`], 'report-status');
    assert.deepEqual(acceptedPushRefs(req, report(['unpack error', 'ok refs/heads/new'])), []);
    assert.deepEqual(acceptedPushRefs(Buffer.from('0004'), report(['unpack ok', 'ok refs/heads/new'])), []);
    assert.deepEqual(acceptedPushRefs(req, Buffer.from('not a report')), []);
    assert.deepEqual(acceptedPushRefs(req, sideBand(report(['unpack ok', 'ok refs/heads/new']))), []);
  });
  it('survives every truncation of a real exchange without throwing', () => {
    const req = request([`${Z} ${A} refs/heads/new`]);
    const res = sideBand(report(['unpack ok', 'ok refs/heads/new']));
    for (let i = 0; i < req.length; i++) acceptedPushRefs(req.subarray(0, i), res);
    for (let i = 0; i < res.length; i++) assert.deepEqual(acceptedPushRefs(req, res.subarray(0, i)), []);
    assert.deepEqual(acceptedPushRefs(req, res), ['refs/heads/new']);
  });
  it('reads a flush-only stream as one flush', () => {
    assert.deepEqual(readPktLines(FLUSH), { pkts: [{ kind: 'flush' }], rest: 0 });
  });
});
