import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BODY_CUT_NOTE, MAX_BODY_CHARS, MAX_HTML_ELEMENTS, extractBodyText, htmlBodyToText, originalBodyText, plainBodyToText } from '../../src/email/body-text.ts';
import { tableToText } from '../../src/email/html-table.ts';

describe('HTML bodies', () => {
  it('drops a Gmail quote with its attribution', () => {
    const html =
      '<div dir="ltr">Thanks! Now please add tests for the <b>parser</b>.<div>See <a href="https://ci.example.com/42">the CI run</a>.</div></div><br>' +
      '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">On Mon, May 6, 2024 at 10:00 AM Airut &lt;<a href="mailto:airut@repo.example">airut@repo.example</a>&gt; wrote:<br></div>' +
      '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">I fixed the build.<br></blockquote></div>';
    assert.equal(htmlBodyToText(html), 'Thanks! Now please add tests for the parser.\nSee the CI run [https://ci.example.com/42].');
  });

  it('cuts Outlook on the web at #appendonsend, with the history after it', () => {
    const html =
      '<html><body><div style="font-family: Aptos">Please also update the README.</div><div id="appendonsend"></div>' +
      '<hr style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>From:</b> Airut &lt;airut@repo.example&gt;<br>' +
      '<b>Sent:</b> Monday, May 6, 2024 10:00 AM<br><b>To:</b> Alice<br><b>Subject:</b> Re: [ID:1a2b3c4d] Fix the build</font><div>&nbsp;</div></div>' +
      '<div>I fixed the build.</div></body></html>';
    assert.equal(htmlBodyToText(html), 'Please also update the README.');
  });

  it('cuts at #divRplyFwdMsg when #appendonsend is missing, and drops the rule before it', () => {
    const html = '<p>Ship it.</p><hr><div id=divRplyFwdMsg><b>From:</b> Airut</div><div>old text</div>';
    assert.equal(htmlBodyToText(html), 'Ship it.');
  });

  it('cuts desktop Outlook\'s From/Sent/To/Subject block', () => {
    const html =
      '<div class=WordSection1><p class=MsoNormal>Looks good, merge it.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>' +
      "<div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in'><p class=MsoNormal><b>From:</b> Airut &lt;airut@repo.example&gt; <br>" +
      '<b>Sent:</b> Monday, May 6, 2024 10:00 AM<br><b>To:</b> Alice &lt;alice@example.com&gt;<br><b>Subject:</b> Re: [ID:1a2b3c4d] Fix the build<o:p></o:p></p></div>' +
      '<p class=MsoNormal>I fixed the build.<o:p></o:p></p></div>';
    assert.equal(htmlBodyToText(html), 'Looks good, merge it.');
  });

  it('drops an Apple Mail quote (attribution inside the blockquote)', () => {
    const html =
      '<html><body style="overflow-wrap: break-word;">Can you also run the linter?<br><div><br><blockquote type="cite">' +
      '<div>On 6 May 2024, at 10:00, Airut &lt;airut@repo.example&gt; wrote:</div><br><div><div>I fixed the build.</div></div></blockquote></div><br></body></html>';
    assert.equal(htmlBodyToText(html), 'Can you also run the linter?');
  });

  it('drops an Apple Mail quote (attribution before the blockquote)', () => {
    const html =
      '<div>Can you also run the linter?</div><div><br><div>On 6 May 2024, at 10:00, Airut &lt;airut@repo.example&gt; wrote:</div><br>' +
      '<blockquote type="cite"><div>I fixed the build.</div></blockquote></div>';
    assert.equal(htmlBodyToText(html), 'Can you also run the linter?');
  });

  it('drops a Thunderbird quote and its moz-cite-prefix', () => {
    const html =
      '<p>Rename the function too.</p><div class="moz-cite-prefix">On 5/6/24 10:00, Airut wrote:<br></div>' +
      '<blockquote type="cite" cite="mid:airut.1a2b3c4d.1.x@repo.example">I fixed the build.</blockquote>';
    assert.equal(htmlBodyToText(html), 'Rename the function too.');
  });

  it('drops a Yahoo quote', () => {
    const html = '<div>Go ahead.</div><div class="yahoo_quoted"><div>On Monday, Airut wrote:</div><div>I fixed the build.</div></div>';
    assert.equal(htmlBodyToText(html), 'Go ahead.');
  });

  it('keeps table cells apart', () => {
    const html = '<p>Results:</p><table><tr><th>test</th><th>status</th></tr><tr><td>parse</td><td>fail</td></tr></table>';
    assert.equal(htmlBodyToText(html), 'Results:\n\ntest    status\nparse   fail');
  });

  it('keeps a blockquote the author wrote on purpose', () => {
    const html = '<p>The error is:</p><blockquote>TypeError: x is undefined</blockquote><p>Please fix it.</p>';
    assert.equal(htmlBodyToText(html), 'The error is:\n\n> TypeError: x is undefined\n\nPlease fix it.');
  });
});

describe('plain-text bodies', () => {
  it('drops > lines and a Gmail attribution wrapped over two lines', () => {
    const text = 'Sure, go ahead.\r\n\r\nOn Mon, May 6, 2024 at 10:00 AM Airut Example <\r\nairut@repo.example> wrote:\r\n\r\n> I fixed the build.\r\n> Anything else?\r\n';
    assert.equal(plainBodyToText(text), 'Sure, go ahead.');
  });

  it('drops a one-line attribution', () => {
    assert.equal(plainBodyToText('Yes.\n\nOn 6 May 2024, at 10:00, Airut <airut@repo.example> wrote:\n\n> old\n'), 'Yes.');
  });

  it('drops a German attribution', () => {
    assert.equal(plainBodyToText('Ja, bitte.\n\nAm 06.05.2024 um 10:00 schrieb Airut <airut@repo.example>:\n> alt\n'), 'Ja, bitte.');
  });

  it('keeps answers written between quoted lines', () => {
    const text = 'On Mon, Airut wrote:\n> Should I rename it?\nYes, to parseMessage.\n> And the tests?\nAdd two.\n';
    assert.equal(plainBodyToText(text), 'Yes, to parseMessage.\nAdd two.');
  });

  it('cuts an Outlook block after its separator', () => {
    const text = 'Please also deploy.\n\n________________________________\nFrom: Airut <airut@repo.example>\nSent: Monday, May 6, 2024 10:00 AM\nTo: Alice\nSubject: Re: Fix\n\nI fixed the build.\n';
    assert.equal(plainBodyToText(text), 'Please also deploy.');
  });

  it('cuts at -----Original Message-----', () => {
    const text = 'Done?\n\n-----Original Message-----\nFrom: Airut\nSent: Monday\n\nI fixed the build.';
    assert.equal(plainBodyToText(text), 'Done?');
  });

  it('keeps the author\'s own sentences that merely look like markers', () => {
    const text = 'On Monday we deploy.\nBob wrote: "ship it" in the ticket.\n\nHere are the headers of the bounce:\nFrom: MAILER-DAEMON\nDate: Mon, 6 May 2024\nSubject: Undelivered\n';
    assert.equal(plainBodyToText(text), text.trimEnd());
  });

  it('trims trailing whitespace and blank runs', () => {
    assert.equal(plainBodyToText('  indented stays  \n\n\n\nnext   \n\n'), '  indented stays\n\nnext');
  });
});

describe('extractBodyText', () => {
  it('prefers HTML', () => {
    assert.equal(extractBodyText({ html: '<p>from html</p>', text: 'from text' }), 'from html');
  });
  it('falls back to text when the HTML holds no text', () => {
    assert.equal(extractBodyText({ html: '<img src="cid:x">', text: 'from text' }), 'from text');
  });
  it('is empty without a body', () => {
    assert.equal(extractBodyText({ html: null, text: null }), '');
  });
});

describe('bounds on the body that is read (issue 13, item 14)', () => {
  it('reads the first MAX_BODY_CHARS characters of a plain body and says that the rest was cut', () => {
    const text = `Please fix the build.\n${'x'.repeat(MAX_BODY_CHARS)}\nthe end`;
    const out = plainBodyToText(text);
    assert.ok(out.startsWith('Please fix the build.\n'));
    assert.ok(out.endsWith(`\n\n${BODY_CUT_NOTE}`), out.slice(-200));
    assert.ok(!out.includes('the end'));
    assert.ok(out.length <= MAX_BODY_CHARS + BODY_CUT_NOTE.length + 2);
  });

  it('does not cut a body within the bound, and adds no note', () => {
    const text = `a\n${'y'.repeat(MAX_BODY_CHARS - 10)}`;
    assert.ok(!plainBodyToText(text).includes(BODY_CUT_NOTE));
  });

  it('still strips quotes from a long German attribution line (the quadratic `schrieb` case)', () => {
    const line = `Am Montag ${'schrieb '.repeat(100_000)}Alice <a@example.com>:`;
    assert.equal(plainBodyToText(`Bitte den Build reparieren.\n\n${line}\n> alt`), 'Bitte den Build reparieren.');
  });

  it('converts HTML up to MAX_HTML_ELEMENTS tags and prefers a plain-text part the bound would cut', () => {
    const html = `<p>first</p>${'<b>'.repeat(MAX_HTML_ELEMENTS)}<p>never read</p>`;
    const fromHtml = htmlBodyToText(html);
    assert.ok(fromHtml.startsWith('first'));
    assert.ok(fromHtml.endsWith(BODY_CUT_NOTE));
    assert.ok(!fromHtml.includes('never read'));
    assert.equal(extractBodyText({ html, text: 'the plain part, whole' }), 'the plain part, whole');
    assert.ok(extractBodyText({ html, text: null }).endsWith(BODY_CUT_NOTE));
  });

  it('lays out a table whose cells claim huge spans at once, one column per cell', () => {
    const html = '<table><tr><td colspan="10000000" rowspan="100000">a</td><td>b</td></tr><tr><td>cc</td><td>d</td></tr></table>';
    assert.equal(htmlBodyToText(html), 'a    b\ncc   d');
  });

  it('keeps a table with a short row and multi-line cells in columns', () => {
    assert.equal(tableToText([[{ text: 'name' }, { text: 'value\nsecond' }, { text: 'z' }], [{ text: 'n' }]], 1000), 'name   value    z\n       second\nn');
  });

  it('stops a table that would grow past the bound', () => {
    const wide = Array.from({ length: 2000 }, () => ({ text: 'x' }));
    const tall = { text: Array.from({ length: 2000 }, () => 'y').join('\n') };
    const out = tableToText([[...wide, tall]], 100_000);
    assert.ok(out.length <= 100_000 + 10_000, String(out.length));
  });
});

describe('the original body (quotes kept)', () => {
  it('is the plain-text part as written: quotes, attribution and signature kept, line ends normalised', () => {
    const text = 'Yes, ship it.\r\n\r\nOn Mon, May 6, 2024 at 10:00 AM Airut wrote:\r\n> I fixed the build.\r\n\r\n-- \r\nAlice\r\n';
    assert.equal(originalBodyText({ html: '<p>Yes</p>', text }), 'Yes, ship it.\n\nOn Mon, May 6, 2024 at 10:00 AM Airut wrote:\n> I fixed the build.\n\n-- \nAlice');
    assert.doesNotMatch(extractBodyText({ html: null, text }), /I fixed the build/);
  });

  it('is the HTML converted to text, quoted history included, for an HTML-only mail', () => {
    const html =
      '<div dir="ltr">Thanks!</div><div class="gmail_quote"><div class="gmail_attr">On Mon, May 6, 2024 Airut wrote:<br></div>' +
      '<blockquote class="gmail_quote">I fixed the build.</blockquote></div><div id="appendonsend"></div><div>From: old</div>';
    const original = originalBodyText({ html, text: null });
    assert.match(original, /^Thanks!\nOn Mon, May 6, 2024 Airut wrote:\n+> I fixed the build\.\n+From: old$/);
    assert.equal(extractBodyText({ html, text: null }), 'Thanks!');
    assert.equal(originalBodyText({ html, text: ' \n' }), original, 'an empty text part beside the HTML counts as none');
  });

  it('is bounded like the stripped text, the cut marked', () => {
    const out = originalBodyText({ html: null, text: `> ${'x'.repeat(MAX_BODY_CHARS)}` });
    assert.ok(out.endsWith(`\n\n${BODY_CUT_NOTE}`));
    assert.ok(out.length <= MAX_BODY_CHARS + BODY_CUT_NOTE.length + 2);
    const tags = originalBodyText({ html: '<b>a</b>'.repeat(MAX_HTML_ELEMENTS + 10), text: null });
    assert.ok(tags.endsWith(BODY_CUT_NOTE));
  });

  it('is empty for a mail without a body', () => {
    assert.equal(originalBodyText({ html: null, text: null }), '');
  });
});
