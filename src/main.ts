/**
 * `npm start` — the daemon's entry point.
 *
 *   npm start                      run the daemon (config from --config, $AIRUT_CONFIG or config/airut.yaml)
 *   npm start -- --check           validate the configuration, print a summary, exit 0 or 1
 *   npm start -- --config PATH     use another configuration file
 *
 * SIGTERM and SIGINT stop it gracefully (exit 0); a second signal forces the exit.
 */
import { ConfigError } from './errors.ts';
import { loadServerConfig } from './config/load.ts';
import { resolveConfigPath } from './config/path.ts';
import { runConfigCheck } from './config/check.ts';
import { logger, registerSecretValues } from './log/logger.ts';
import type { ServerConfig } from './config/types.ts';
import { Daemon } from './daemon.ts';

const USAGE = `usage: npm start -- [--config PATH] [--check] [--help]

  --config PATH   configuration file (default: $AIRUT_CONFIG, else config/airut.yaml)
  --check         validate the configuration, print a summary of the repositories, and exit
  --help          show this text
`;

function secretValuesOf(config: ServerConfig): string[] {
  const values: string[] = [];
  if (config.global.dashboard.authToken) values.push(config.global.dashboard.authToken);
  for (const repo of Object.values(config.repos)) {
    values.push(repo.email.password, ...Object.values(repo.secrets));
    for (const m of Object.values(repo.maskedSecrets)) values.push(m.value);
    for (const c of Object.values(repo.signingCredentials)) {
      values.push(c.accessKeyId.value, c.secretAccessKey.value);
      if (c.sessionToken) values.push(c.sessionToken.value);
    }
  }
  return values;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
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
