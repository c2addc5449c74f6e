/**
 * Entry point of a task-runner thread (a Piscina worker). Runs one task at a time. The runner-wide
 * settings arrive once, as the thread's workerData (see Dispatcher); from them the thread keeps its
 * own database connection (connections are per thread) and its execution backend for its life.
 */
import { workerData } from 'node:worker_threads';
import { openDatabase } from '../src/store/database.ts';
import { logger, registerSecretValues } from '../src/log/logger.ts';
import { repoSecretValues } from '../src/config/secret-values.ts';
import { runTask, type RunnerEnvironment } from '../src/runner/run-task.ts';
import { createExecutionBackend } from '../src/sandbox/backend-factory.ts';
import type { RunnerSettings, RunTaskInput, RunTaskResult } from '../src/protocol/runner.ts';

let env: RunnerEnvironment | null = null;

/** Built on the first task, so a thread that never runs one opens nothing. */
function runnerEnvironment(): RunnerEnvironment {
  if (env) return env;
  const settings = workerData as RunnerSettings;
  env = { settings, db: openDatabase(settings.databasePath), backend: createExecutionBackend(settings.execution) };
  return env;
}

export default async function runTaskInThread(input: RunTaskInput): Promise<RunTaskResult> {
  const environment = runnerEnvironment();
  const repo = input.repo;
  registerSecretValues(repoSecretValues(repo));
  const log = logger().child({ repo: repo.repoId, task: input.taskId, conversation: input.conversationId, thread: 'runner' });
  log.info({ newConversation: input.isNewConversation, resume: input.isResume }, 'task started');
  const result = await runTask(input, environment, log);
  log.info({ status: result.status }, 'task finished');
  return result;
}
