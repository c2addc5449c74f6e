/**
 * The demo's scripted "model": answers to the real Claude Code CLI through the mock Messages API
 * (test/harness/mock-anthropic.ts), so the CLI really reads and writes files and runs commands in
 * the container, step by step, as it would with Claude.
 *
 * The task is recognised by the words of the demo mails (scenario.ts); the step is the number of tool
 * results the CLI has sent back since the task's prompt. Anything else gets a short polite answer.
 */
import {
  blocksOf,
  isAgentRequest,
  lastToolResultText,
  type MessagesRequestBody,
  type MockReply,
  type MockScript,
} from '../../test/harness/mock-anthropic.ts';
import { latestPrompt } from '../../test/harness/scripted-agent.ts';

const SHOUT_SH = `#!/bin/bash
# Prints a greeting. --shout prints it in capitals.
shout=0
if [ "$1" = "--shout" ]; then
  shout=1
  shift
fi
name="\${1:-world}"
greeting="Hello, $name!"
if [ "$shout" = 1 ]; then
  greeting=$(printf '%s' "$greeting" | tr '[:lower:]' '[:upper:]')
fi
echo "$greeting"
`;

const HELP_SH = `#!/bin/bash
# Prints a greeting. --shout prints it in capitals; --help explains the options.
usage() {
  echo "usage: greet.sh [--shout] [NAME]"
}
shout=0
case "$1" in
  --help|-h) usage; exit 0 ;;
  --shout) shout=1; shift ;;
esac
name="\${1:-world}"
greeting="Hello, $name!"
if [ "$shout" = 1 ]; then
  greeting=$(printf '%s' "$greeting" | tr '[:lower:]' '[:upper:]')
fi
echo "$greeting"
`;

/** How many tool results came back since the task's prompt: the step the agent is at. */
export function stepOf(body: MessagesRequestBody): number {
  const msgs = body.messages ?? [];
  let promptIndex = -1;
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i]!;
    if (m.role !== 'user') continue;
    const blocks = blocksOf(m);
    if (blocks.some((b) => b.type === 'tool_result')) continue;
    if (blocks.some((b) => b.type === 'text' && typeof b['text'] === 'string' && (b['text'] as string).includes('/outbox'))) {
      promptIndex = i;
      break;
    }
  }
  let step = 0;
  for (let i = promptIndex + 1; i < msgs.length; i++) {
    const m = msgs[i]!;
    if (m.role === 'user' && blocksOf(m).some((b) => b.type === 'tool_result')) step += 1;
  }
  return step;
}

function tool(text: string, name: string, input: Record<string, unknown>): MockReply {
  return { kind: 'tool_use', text, name, input };
}

function text(markdown: string): MockReply {
  return { kind: 'text', text: markdown };
}

function fenced(output: string): string {
  return `\`\`\`\n${output.trim()}\n\`\`\``;
}

function shoutTask(step: number, body: MessagesRequestBody): MockReply {
  switch (step) {
    case 0:
      return tool('Let me look at the script first.', 'Read', { file_path: '/workspace/greet.sh' });
    case 1:
      return tool('I will add a `--shout` flag that upper-cases the greeting.', 'Write', { file_path: '/workspace/greet.sh', content: SHOUT_SH });
    case 2:
      return tool('Now let me try both ways.', 'Bash', {
        command: 'cd /workspace && bash greet.sh Alice && bash greet.sh --shout Alice',
        description: 'Run greet.sh with and without --shout',
      });
    default:
      return text(
        `Done: \`greet.sh\` now takes a **\`--shout\`** option that prints the greeting in capitals.\n\n` +
          `I ran it both ways:\n\n${fenced(lastToolResultText(body))}\n\n` +
          `Without the flag it behaves as before. The change is in this conversation's workspace; reply if you want more.`,
      );
  }
}

function helpTask(step: number, body: MessagesRequestBody): MockReply {
  switch (step) {
    case 0:
      return tool('Reading the current version of the script.', 'Read', { file_path: '/workspace/greet.sh' });
    case 1:
      return tool('Adding a `--help` option with a usage line.', 'Write', { file_path: '/workspace/greet.sh', content: HELP_SH });
    case 2:
      return tool('Checking `--help` and that `--shout` still works.', 'Bash', {
        command: 'cd /workspace && bash greet.sh --help && bash greet.sh --shout Bob',
        description: 'Run greet.sh --help and --shout',
      });
    default:
      return text(
        `Added **\`--help\`** (and \`-h\`): it prints a usage line and exits.\n\n${fenced(lastToolResultText(body))}\n\n` +
          'This continues the same Claude session as your first mail, so I remembered the `--shout` change.',
      );
  }
}

function todoTask(step: number, body: MessagesRequestBody, messages: MessagesRequestBody['messages']): MockReply {
  switch (step) {
    case 0:
      return tool('Searching the docs for TODO markers.', 'Bash', { command: 'cd /workspace && grep -rn TODO docs/ | sort', description: 'Find TODOs in docs/' });
    case 1: {
      const lines = lastToolResultText(body)
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => /TODO/.test(l));
      const report =
        `# Open TODOs in docs/\n\n${lines.map((l) => {
          const [file, line, ...rest] = l.split(':');
          return `- \`${file}\` line ${line}: ${rest.join(':').replace(/^.*?TODO:?\s*/, '')}`;
        }).join('\n')}\n`;
      return tool(`Found ${lines.length}. Writing the report.`, 'Write', { file_path: '/outbox/todo-report.md', content: report });
    }
    default: {
      // The grep output is two tool results back (the last one is the Write confirmation).
      const grep = toolResultTexts(messages).at(-2) ?? '';
      const count = grep.split('\n').filter((l) => /TODO/.test(l)).length;
      return text(
        `There are **${count} open TODOs** under \`docs/\`:\n\n${fenced(grep)}\n\n` +
          'The attached `todo-report.md` lists them as a checklist. Reply to this mail if you want me to draft the missing sections.',
      );
    }
  }
}

function toolResultTexts(messages: MessagesRequestBody['messages']): string[] {
  const out: string[] = [];
  for (const m of messages ?? []) {
    if (m.role !== 'user') continue;
    for (const b of blocksOf(m)) {
      if (b.type !== 'tool_result') continue;
      const c = b['content'];
      out.push(typeof c === 'string' ? c : Array.isArray(c) ? c.map((x: { text?: string }) => x.text ?? '').join('\n') : '');
    }
  }
  return out;
}

/** The scripted agent; `delayMs` before each answer makes the live dashboard worth watching. */
export function demoAgent(delayMs: number): MockScript {
  return async (body) => {
    // The CLI's side requests (titles, summaries) come without tools.
    if (!isAgentRequest(body)) return text('ok');
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    const prompt = latestPrompt(body);
    const step = stepOf(body);
    if (/--help/.test(prompt)) return helpTask(step, body);
    if (/--shout/.test(prompt)) return shoutTask(step, body);
    if (/TODO/.test(prompt)) return todoTask(step, body, body.messages);
    // The first line of the mail itself: after its `[sender YYYY-MM-DD HH:MM:SS UTC]` header, past the channel context.
    const mailLine = /^\[[^\n]* \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\]\n([^\n]*)/m.exec(prompt)?.[1];
    const firstLine = mailLine?.trim() || (prompt.split('\n').find((l) => l.trim()) ?? '');
    return text(
      `Thanks for your mail. I am the demo's scripted agent, so I only know the demo tasks; a real Claude would now work on:\n\n> ${firstLine.slice(0, 200)}`,
    );
  };
}
