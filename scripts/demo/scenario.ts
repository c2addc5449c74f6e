/**
 * What the demo shows: two small repositories, the mails sent to them, and the follow-up.
 * The scripted agent (agent.ts) recognises each task by the words of these mails.
 */

export interface DemoRepo {
  /** The key under `repos:`; also the inbox user and the image name (`airut-<id>`). */
  readonly id: string;
  readonly description: string;
  /** Files committed on `main` besides `.airut/`. */
  readonly files: Readonly<Record<string, string>>;
}

export interface DemoMail {
  readonly key: string;
  readonly repoId: string;
  readonly subject: string;
  readonly text: string;
  /** Sent as a reply to the answer of this mail, once that answer has arrived. */
  readonly followUpOf?: string;
}

export const SENDER = 'You <you@example.com>';
export const SENDER_ADDRESS = 'you@example.com';
/** The authserv-id the demo's "receiving mail server" writes into Authentication-Results. */
export const AUTHSERV_ID = 'mx.demo.localhost';
export const BOT_DOMAIN = 'demo.localhost';

export const GREET_SH = `#!/bin/bash
# Prints a greeting.
name="\${1:-world}"
echo "Hello, $name!"
`;

export const DEMO_REPOS: readonly DemoRepo[] = [
  {
    id: 'greeter',
    description: 'a tiny shell tool',
    files: {
      'greet.sh': GREET_SH,
      'README.md': '# greeter\n\n`./greet.sh NAME` prints a greeting.\n',
    },
  },
  {
    id: 'handbook',
    description: 'a documentation site',
    files: {
      'README.md': '# Team handbook\n\nMarkdown pages under `docs/`.\n',
      'docs/onboarding.md':
        '# Onboarding\n\n1. Get a laptop.\n2. TODO: describe how to request repository access.\n3. Read the handbook.\n',
      'docs/deploy.md':
        '# Deploying\n\nRun the pipeline from the main branch.\n\nTODO: document the rollback procedure.\nTODO: add the on-call contact.\n',
      'docs/style.md': '# Writing style\n\nShort sentences. Active voice.\n',
    },
  },
];

export const DEMO_MAILS: readonly DemoMail[] = [
  {
    key: 'shout',
    repoId: 'greeter',
    subject: 'Add a --shout option to greet.sh',
    text: 'Hi!\n\nCould you add a --shout option to greet.sh that prints the greeting in capitals? Please show me that it works.\n\nThanks',
  },
  {
    key: 'todos',
    repoId: 'handbook',
    subject: 'Which TODOs are left in the docs?',
    text: 'Hello,\n\nplease find the open TODOs under docs/ and send me a short report as a file.\n',
  },
  {
    key: 'help',
    repoId: 'greeter',
    subject: 'Re: Add a --shout option to greet.sh',
    text: 'Great, thanks! Please also add a --help option that prints a usage line.\n',
    followUpOf: 'shout',
  },
];
