/**
 * `npm start` — the daemon's entry point.
 *
 *   npm start                      run the daemon (config from --config, $AIRUT_CONFIG or config/airut.yaml)
 *   npm start -- --check           validate the configuration, print a summary, exit 0 or 1
 *   npm start -- --check --online  also check logins, git remotes, podman, Claude Code, the database
 *   npm start -- --config PATH     use another configuration file
 *   npm start -- --env-file PATH   read !env values from PATH (default: .env beside the configuration)
 *   npm start -- --resilient       start the valid repositories when others are invalid
 *
 * SIGTERM and SIGINT stop it gracefully (exit 0); copies of one signal arriving together (Ctrl-C on
 * npm's process group) are one request, a later second one forces the exit (src/daemon/stop-signals.ts).
 * SIGHUP, or a change of the configuration file, reloads the configuration (docs/configuration.md,
 * "Reloading"). The same daemon runs as `airut start` (src/cli/); both go through
 * runDaemon (src/cli/run-daemon.ts).
 */
import { resolveConfigPath } from './config/path.ts';
import { runConfigCheck } from './config/check.ts';
import { DEFAULT_CHECK_TIMEOUT_SECONDS, runDoctor } from './doctor/doctor.ts';
import { runDaemon } from './cli/run-daemon.ts';

const USAGE = `usage: npm start -- [--config PATH] [--env-file PATH] [--resilient] [--check [--online [--timeout SECONDS]]] [--help]

  --config PATH        configuration file (default: $AIRUT_CONFIG, else config/airut.yaml)
  --env-file PATH      KEY=value file for the configuration's !env values (default: .env beside
                       the configuration file, if there is one); the process environment wins
  --resilient          start the valid repositories when others are invalid (a missing !env
                       variable, …); those are listed as failed on /health until a reload fixes them
  --check              validate the configuration, print a summary of the repositories, and exit
  --check --online     also try everything the daemon needs, read-only, and print a table of what to
                       fix: each repository's IMAP and SMTP login and git remote, its storage
                       directory, podman, the Claude Code binary and the database; exit 1 on any FAIL
  --timeout SECONDS    limit for each online check (default ${DEFAULT_CHECK_TIMEOUT_SECONDS})
  --help               show this text
`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--online') && !argv.includes('--check')) {
    process.stderr.write('--online goes with --check: npm start -- --check --online\n');
    return 1;
  }
  if (argv.includes('--check') && argv.includes('--online')) {
    const code = await runDoctor(argv, process.env, { stdout: process.stdout, stderr: process.stderr });
    // A check that timed out may leave a child or socket behind; the report is written, so leave now.
    process.exit(code);
  }
  if (argv.includes('--check')) return runConfigCheck(argv, process.env, { stdout: process.stdout, stderr: process.stderr });

  return runDaemon(resolveConfigPath(argv, process.env), argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`airut-ts failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
