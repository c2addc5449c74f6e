import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAllowedLink, renderSafeMarkdown, type MarkdownTarget } from '../../src/markdown/safe-markdown.ts';

const TARGETS: MarkdownTarget[] = ['mail', 'dashboard', 'request'];

/** Nothing in the output may run code or load anything. */
function assertInert(html: string, input: string, target: MarkdownTarget): void {
  const where = `input ${JSON.stringify(input)} → ${html}`;
  assert.doesNotMatch(html, /<(?:script|iframe|img|object|embed|svg|style|form|input|video|audio|source|link|meta|base)\b/i, where);
  // Every '<' of the input is escaped, so each real tag is one this renderer wrote: check their attributes.
  for (const [tag] of html.matchAll(/<[a-z][^>]*>/gi)) {
    const names = tag.replace(/"[^"]*"/g, '""'); // attribute names only: values are escaped text
    assert.doesNotMatch(names, /\s(?:on[a-z]+|src|srcdoc|formaction)\s*=/i, where);
    // Mail gets fixed inline styles of ours; the dashboard none at all.
    if (target !== 'mail') assert.doesNotMatch(names, /\sstyle\s*=/i, where);
    const linkTo = /\shref="([^"]*)"/.exec(tag)?.[1];
    if (linkTo !== undefined) assert.match(linkTo, /^(?:https?|mailto):/i, where);
  }
}

const HOSTILE = [
  '<script>window.__pwned = 1</script>',
  'text <script>alert(1)</script> inline',
  '<img src=x onerror="window.__pwned=1">',
  'inline <img src=x onerror=alert(1)> here',
  '<iframe src="https://evil.example/"></iframe>',
  '<div onclick="alert(1)">raw block</div>\n\nafter',
  '<svg onload=alert(1)>',
  '<a href="javascript:alert(1)">raw link</a>',
  '[a](javascript:alert(1))',
  '[a](JavaScript:alert(1))',
  '[a]( javascript:alert(1))',
  '[a](java\tscript:alert(1))',
  '[a](javascript&colon;alert(1))',
  '[a](&#106;avascript:alert(1))',
  '[a](&#x6A;avascript:alert(1))',
  '[a](javascript&#58;alert(1))',
  '[a](vbscript:msgbox(1))',
  '[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[a](file:///etc/passwd)',
  '[a][ref]\n\n[ref]: javascript:alert(1)',
  '<javascript:alert(1)>',
  '![x](http://evil.example/pixel.png)',
  '![x](javascript:alert(1))',
  '![x](data:image/png;base64,AAAA)',
  '[![x](http://evil.example/i.png)](https://ok.example/)',
  '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#60;img src=x onerror=alert(1)&#62;',
  '```html\n<script>alert(1)</script>\n```',
  '`<img src=x onerror=alert(1)>`',
  '[a](https://ok.example/" onmouseover="alert(1))',
  '[a](https://ok.example/ "t\\" onmouseover=\\"alert(1)")',
  '<style>body{background:url(http://evil.example/)}</style>',
  '<form action="https://evil.example"><input name=x></form>',
];

test('hostile markdown and HTML render inert, for mail and dashboard alike', () => {
  for (const target of TARGETS) for (const input of HOSTILE) assertInert(renderSafeMarkdown(input, target), input, target);
});

test('raw HTML is shown as text', () => {
  for (const target of TARGETS) {
    assert.match(renderSafeMarkdown('<script>alert(1)</script>', target), /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(renderSafeMarkdown('a <b>bold</b> word', target), /a &lt;b&gt;bold&lt;\/b&gt; word/);
  }
});

test('an image is never loaded: a link to it, or its alt text when its target is not allowed', () => {
  const d = renderSafeMarkdown('![a chart](https://example.com/c.png)', 'dashboard');
  assert.equal(d.trim(), '<p><a class="md-image" href="https://example.com/c.png" rel="noopener noreferrer nofollow">a chart</a></p>');
  assert.equal(renderSafeMarkdown('![alt](javascript:alert(1))', 'dashboard').trim(), '<p>alt</p>');
  assert.equal(renderSafeMarkdown('![](data:image/png;base64,AA)', 'mail').trim(), '<p>data:image/png;base64,AA</p>');
});

test('links keep http, https and mailto targets with rel, and show only their text otherwise', () => {
  for (const target of TARGETS) {
    assert.match(renderSafeMarkdown('[x](https://a.example/p?q=1&r=2)', target), /<a href="https:\/\/a\.example\/p\?q=1&amp;r=2" rel="noopener noreferrer nofollow">x<\/a>/);
    assert.match(renderSafeMarkdown('[mail](mailto:a@b.example)', target), /<a href="mailto:a@b\.example" rel="noopener noreferrer nofollow">mail<\/a>/);
    assert.equal(renderSafeMarkdown('[rel](docs/readme.md) [top](#top) [abs](/logout)', target).trim(), '<p>rel top abs</p>');
    assert.equal(renderSafeMarkdown('[**bold** text](javascript:alert(1))', target).trim(), '<p><strong>bold</strong> text</p>');
  }
  for (const ok of ['https://a.example', 'http://a', 'mailto:x@y', 'HTTPS://A.EXAMPLE']) assert.equal(isAllowedLink(ok), true, ok);
  for (const bad of ['#top', '/abs', 'docs/x', '//evil.example/', 'javascript:x', 'java\nscript:x', 'data:text/html,x']) {
    assert.equal(isAllowedLink(bad), false, bad);
  }
});

test('the looks differ by target: inline styles for mail, classes for the dashboard (its CSP forbids inline styles)', () => {
  const md = 'use `npm test`\n\n```ts\nconst a = 1;\n```';
  const mail = renderSafeMarkdown(md, 'mail');
  const dash = renderSafeMarkdown(md, 'dashboard');
  assert.match(mail, /<code style="[^"]+">npm test<\/code>/);
  assert.match(mail, /<pre style="[^"]+"><code class="language-ts">const a = 1;<\/code><\/pre>/);
  assert.doesNotMatch(dash, /style=/);
  assert.match(dash, /<code class="md-code">npm test<\/code>/);
  assert.match(dash, /<pre class="md-pre"><code class="language-ts">const a = 1;<\/code><\/pre>/);
  assert.match(renderSafeMarkdown('```"><script>\nx\n```', 'dashboard'), /<pre class="md-pre"><code>x<\/code><\/pre>/);
});

test('ordinary markdown renders: headings, emphasis, lists, tables, entities kept as text', () => {
  const html = renderSafeMarkdown('# Done\n\n**bold** and _em_\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nAT&T &copy;', 'dashboard');
  assert.match(html, /<h1>Done<\/h1>/);
  assert.match(html, /<strong>bold<\/strong> and <em>em<\/em>/);
  assert.match(html, /<li>one<\/li>/);
  assert.match(html, /<table>/);
  assert.match(html, /AT&amp;T ©|AT&amp;T &copy;/);
});

test("a request keeps the writer's single line breaks; the agent's markdown joins them as markdown does", () => {
  const text = 'Hi,\nplease fix the parser.\nThanks, Carol';
  assert.equal(renderSafeMarkdown(text, 'request').match(/<br>/g)?.length, 2);
  assert.doesNotMatch(renderSafeMarkdown(text, 'dashboard'), /<br>/);
});
