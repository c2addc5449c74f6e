import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  conversationIdCandidates,
  conversationIdFromMessageId,
  extractMessageIds,
  extractSubjectTag,
  stripReplyPrefixes,
} from '../../src/email/threading.ts';

describe('conversationIdFromMessageId', () => {
  it('reads our own Message-IDs', () => {
    assert.equal(conversationIdFromMessageId('<airut.1a2b3c4d.1714989600.k3j4h5@repo.example>'), '1a2b3c4d');
  });
  it('ignores everyone else', () => {
    for (const id of ['<CAF1234@mail.gmail.com>', '<airut.1A2B3C4D.1.x@repo.example>', '<airut.1a2b3c4.1.x@r.e>', '<airut.1a2b3c4d.x.y@r.e>', '<xairut.1a2b3c4d.1.n@r.e>', '']) {
      assert.equal(conversationIdFromMessageId(id), null, id);
    }
  });
});

describe('conversationIdCandidates', () => {
  it('orders In-Reply-To, References newest first, then the subject tag, without duplicates', () => {
    const candidates = conversationIdCandidates({
      inReplyTo: '<airut.aaaaaaaa.1.n1@repo.example>',
      references: ['<first@gmail.com>', '<airut.bbbbbbbb.1.n2@repo.example>', '<airut.cccccccc.2.n3@repo.example>', '<airut.aaaaaaaa.1.n1@repo.example>'],
      subject: 'Re: [ID:dddddddd] Fix it',
    });
    assert.deepEqual(candidates, [
      { conversationId: 'aaaaaaaa', source: 'in-reply-to' },
      { conversationId: 'cccccccc', source: 'references' },
      { conversationId: 'bbbbbbbb', source: 'references' },
      { conversationId: 'dddddddd', source: 'subject' },
    ]);
  });
  it('falls back to the subject tag when the client dropped the threading headers', () => {
    assert.deepEqual(conversationIdCandidates({ inReplyTo: null, references: [], subject: 'AW: [ID:0123abcd] Build' }), [
      { conversationId: '0123abcd', source: 'subject' },
    ]);
  });
  it('gives nothing for a new message', () => {
    assert.deepEqual(conversationIdCandidates({ inReplyTo: null, references: [], subject: 'Fix the build' }), []);
  });
});

describe('subjects', () => {
  it('finds the tag only in its exact form', () => {
    assert.equal(extractSubjectTag('Re: [ID:ABCDEF01] x'), 'abcdef01');
    assert.equal(extractSubjectTag('[ID:abcdef0] x'), null);
    assert.equal(extractSubjectTag('[ID:abcdef012] x'), null);
    assert.equal(extractSubjectTag('[ID: abcdef01] x'), null);
  });
  it('strips reply prefixes, repeated and mixed, and our tag', () => {
    assert.equal(stripReplyPrefixes('Re: RE: Fwd: AW: SV: [ID:1a2b3c4d] Fix the build'), 'Fix the build');
    assert.equal(stripReplyPrefixes('Re[2]: Fw: Deploy'), 'Deploy');
    assert.equal(stripReplyPrefixes('Regarding: the build'), 'Regarding: the build');
    assert.equal(stripReplyPrefixes('Re:'), '');
  });
});

describe('extractMessageIds', () => {
  it('reads bracketed ids in order and bare ids as a fallback', () => {
    assert.deepEqual(extractMessageIds('<a@b> (comment) <c@d>'), ['<a@b>', '<c@d>']);
    assert.deepEqual(extractMessageIds('a@b c@d'), ['<a@b>', '<c@d>']);
    assert.deepEqual(extractMessageIds('Your message of Monday'), []);
  });
});
