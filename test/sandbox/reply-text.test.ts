/** The reply text of a run, chosen as Airut chooses it. Pure, table-tested. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_OUTPUT_TEXT, selectReplyText } from '../../src/sandbox/reply-text.ts';
import { followAgentOutput } from '../../src/sandbox/agent-output.ts';
import { PassThrough } from 'node:stream';
import { logger } from '../../src/log/logger.ts';

const long = 'The real answer: '.padEnd(200, 'x');

const cases: Array<[name: string, assistantTexts: string[], resultTexts: string[], reply: string]> = [
  ['nothing at all', [], [], NO_OUTPUT_TEXT],
  ['only a result', [], ['the result'], 'the result'],
  ['only empty texts', ['', ''], [''], NO_OUTPUT_TEXT],
  ['one assistant text wins over the result', ['answer'], ['result text'], 'answer'],
  ['the last text when none before is much longer', ['Looking at it.', 'Here is the fix.', 'Done now.'], ['Done now.'], 'Done now.'],
  ['a short coda after a 4x longer answer: from the answer on', [long, 'Done.'], ['Done.'], `${long}\n\nDone.`],
  ['exactly 4x counts', ['abcdefgh', 'ab'], ['ab'], 'abcdefgh\n\nab'],
  ['just under 4x does not', ['abcdefg', 'ab'], ['ab'], 'ab'],
  ['the latest long text anchors the reply', [long, 'mid', long, 'tail', 'Done.'], ['Done.'], `${long}\n\ntail\n\nDone.`],
  ['a long text outside the window of 5 is not reached', [long, 'a1', 'a2', 'a3', 'a4', 'Ok.'], ['Ok.'], 'Ok.'],
  ['a long text at the window edge is reached', [long, 'a2', 'a3', 'a4', 'Ok.'], ['Ok.'], `${long}\n\na2\n\na3\n\na4\n\nOk.`],
  ['several results are joined, empty ones left out', ['last text'], ['first turn', '', 'second turn'], 'first turn\n\nsecond turn'],
  ['several empty results fall back to the texts', ['last text'], ['', ''], 'last text'],
];

for (const [name, assistantTexts, resultTexts, reply] of cases) {
  test(`reply text: ${name}`, () => {
    assert.equal(selectReplyText({ assistantTexts, resultTexts }), reply);
  });
}

test('the followed output keeps the last 5 assistant texts and every result text for the choice', async () => {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const { output, done } = followAgentOutput({ stdout, stderr }, 1 << 20, () => undefined, logger());
  const line = (o: unknown) => stdout.write(`${JSON.stringify(o)}\n`);
  for (const text of ['t1', long, 't3', 't4', 't5', 'Done.']) line({ type: 'assistant', message: { content: [{ type: 'text', text }] } });
  line({ type: 'result', subtype: 'success', is_error: false, result: 'Done.', session_id: 's1', total_cost_usd: 0, num_turns: 1, duration_ms: 1 });
  stdout.end();
  stderr.end();
  await done;
  assert.deepEqual(output.assistantTexts, [long, 't3', 't4', 't5', 'Done.']);
  assert.deepEqual(output.resultTexts, ['Done.']);
  assert.equal(selectReplyText(output), `${long}\n\nt3\n\nt4\n\nt5\n\nDone.`);
});
