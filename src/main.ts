/**
 * `npm start` — the daemon's entry point.
 *
 *   npm start                      run the daemon (config from --config, $AIRUT_CONFIG or config/airut.yaml)
 *   npm start -- --check           validate the configuration, print a summary, exit 0 or 1
 *   npm start -- --check --online  also check logins, git remotes, podman, Claude Code, the database
 *   npm start -- --config PATH     use another configuration file
 *
 * SIGTERM and SIGINT stop it gracefully (exit 0); a second signal forces the exit. SIGHUP, or a
 * change of the configuration file, reloads the configuration (docs/configuration.md, "Reloading").
 */
import { ConfigError } from './errors.ts';
import { loadServerConfig } from './config/load.ts';
import { resolveConfigPath } from './config/path.ts';
import { runConfigCheck } from './config/check.ts';
import { logger, registerSecretValues } from './log/logger.ts';
import type { ServerConfig } from './config/types.ts';
import { secretValuesOf } from './config/secret-values.ts';
import { Daemon } from './daemon/daemon.ts';
import { DEFAULT_CHECK_TIMEOUT_SECONDS, runDoctor } from './doctor/doctor.ts';

const USAGE = `usage: npm start -- [--config PATH] [--check [--online [--timeout SECONDS]]] [--help]

  --config PATH        configuration file (default: $AIRUT_CONFIG, else config/airut.yaml)
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

  const configPath = resolveConfigPath(argv, process.env);
  let config: ServerConfig;
  try {
    config = loadServerConfig(configPath, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  registerSecretValues(secretValuesOf(config));
  const log = logger().child({ component: 'main' });

  const daemon = new Daemon(config);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'shutting down');
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Reload the configuration (also done when the file changes). Issue 17's signal work owns this wiring.
  process.on('SIGHUP', () => void daemon.reload());
  process.on('uncaughtException', (err) => {
    // Unknown state: the process manager restarts us; durable state makes that safe.
    log.fatal({ err: err.stack ?? err.message }, 'uncaught exception; exiting');
    process.exit(70);
  });
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason instanceof Error ? reason.stack : String(reason) }, 'unhandled promise rejection');
  });

  try {
    await daemon.start();
  } catch (err) {
    const e = err as Error & { code?: string };
    log.fatal({ code: e.code, err: e.message }, 'start-up failed');
    process.stderr.write(`airut-ts could not start: ${e.message}\n`);
    await daemon.stop();
    return 1;
  }
  return -1; // keep running until a signal
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
