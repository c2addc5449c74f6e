/**
 * Entry point of a task-runner thread (a Piscina worker). Runs one task at a time; keeps its own
 * database connection for the life of the thread (connections are per thread).
 */
import { openDatabase, type Db } from '../src/store/database.ts';
import { logger, registerSecretValues } from '../src/log/logger.ts';
import { runTask } from '../src/runner/run-task.ts';
import type { RunTaskInput, RunTaskResult } from '../src/protocol/runner.ts';

let db: Db | null = null;
let dbPath: string | null = null;

export default async function runTaskInThread(input: RunTaskInput): Promise<RunTaskResult> {
  if (!db || dbPath !== input.globals.databasePath) {
    db?.close();
    db = openDatabase(input.globals.databasePath);
    dbPath = input.globals.databasePath;
  }
  const repo = input.repo;
  registerSecretValues([
    repo.email.password,
    ...Object.values(repo.secrets),
    ...Object.values(repo.maskedSecrets).map((m) => m.value),
  ]);
  const log = logger().child({ repo: repo.repoId, task: input.taskId, conversation: input.conversationId, thread: 'runner' });
  log.info({ newConversation: input.isNewConversation, resume: input.isResume }, 'task started');
  const result = await runTask(input, db, log);
  log.info({ status: result.status }, 'task finished');
  return result;
}
