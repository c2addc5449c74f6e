/**
 * Versioned schema migrations, tracked in SQLite's `user_version`. A migration is never edited
 * after it has shipped: add a new one. Each runs in its own transaction with the version bump.
 */
import type Database from 'better-sqlite3';
import { AirutError } from '../errors.ts';

interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
  /** CHECK lists loosened in place (a value added), before `sql` runs. */
  readonly rewriteSchema?: readonly SchemaRewrite[];
}

interface SchemaRewrite {
  readonly table: string;
  /** Text of the table's CREATE statement to replace; it must occur exactly once. */
  readonly from: string;
  readonly to: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'messages, tasks, conversations, task events, outgoing mail, repo status',
    sql: `
      CREATE TABLE messages (
        id           INTEGER PRIMARY KEY,
        repo_id      TEXT    NOT NULL,
        raw_sha256   TEXT    NOT NULL,
        message_id   TEXT,
        imap_uid     INTEGER,
        size         INTEGER NOT NULL,
        raw          BLOB    NOT NULL,
        received_at  INTEGER NOT NULL,
        UNIQUE (repo_id, raw_sha256)
      );

      CREATE TABLE tasks (
        id              INTEGER PRIMARY KEY,
        repo_id         TEXT    NOT NULL,
        message_row     INTEGER NOT NULL REFERENCES messages(id),
        conversation_id TEXT,
        sender          TEXT,
        subject         TEXT    NOT NULL DEFAULT '',
        message_id      TEXT,
        status          TEXT    NOT NULL CHECK (status IN
                          ('queued','running','completed','failed','timeout','cancelled','interrupted','rejected')),
        reason          TEXT,
        detail          TEXT,
        model_hint      TEXT,
        thread_refs     TEXT    NOT NULL DEFAULT '[]',
        model           TEXT,
        session_id      TEXT,
        cost_usd        REAL,
        turns           INTEGER,
        error           TEXT,
        attempts        INTEGER NOT NULL DEFAULT 0,
        -- 1 when a shutdown interrupted the task: it runs again (resuming its session) after the restart.
        resume_pending  INTEGER NOT NULL DEFAULT 0,
        lease_until     INTEGER,
        created_at      INTEGER NOT NULL,
        started_at      INTEGER,
        finished_at     INTEGER
      );
      CREATE INDEX tasks_by_status ON tasks (status, id);
      CREATE INDEX tasks_by_repo ON tasks (repo_id, id);
      CREATE INDEX tasks_by_repo_status ON tasks (repo_id, status, id);
      CREATE INDEX tasks_by_conversation ON tasks (repo_id, conversation_id, id);
      -- Idempotency: one live (non-rejected) task per (repo, Message-ID). A rejected spoof that
      -- reuses a Message-ID must not block the genuine message, so rejected rows are excluded.
      CREATE UNIQUE INDEX tasks_accepted_message_id ON tasks (repo_id, message_id)
        WHERE message_id IS NOT NULL AND status <> 'rejected';

      CREATE TABLE conversations (
        repo_id          TEXT    NOT NULL,
        id               TEXT    NOT NULL,
        model            TEXT,
        session_id       TEXT,
        subject          TEXT    NOT NULL DEFAULT '',
        sender           TEXT,
        created_at       INTEGER NOT NULL,
        last_activity_at INTEGER NOT NULL,
        PRIMARY KEY (repo_id, id)
      );

      -- What the agent did, as it happened (stream-json, one row per event), for the dashboard.
      CREATE TABLE task_events (
        id       INTEGER PRIMARY KEY,
        task_id  INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        at       INTEGER NOT NULL,
        kind     TEXT    NOT NULL,
        data     TEXT    NOT NULL
      );
      CREATE INDEX task_events_by_task ON task_events (task_id, id);

      -- Durable outgoing mail: a reply is written here (complete MIME) in the same transaction
      -- that finishes its task, then sent; failures are retried with backoff, across restarts.
      CREATE TABLE outgoing_mail (
        id              INTEGER PRIMARY KEY,
        repo_id         TEXT    NOT NULL,
        task_id         INTEGER REFERENCES tasks(id),
        conversation_id TEXT,
        kind            TEXT    NOT NULL CHECK (kind IN ('ack','reply','error','notice')),
        message_id      TEXT    NOT NULL,
        recipient       TEXT    NOT NULL,
        subject         TEXT    NOT NULL,
        raw             BLOB    NOT NULL,
        status          TEXT    NOT NULL CHECK (status IN ('pending','sent','failed')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        next_attempt_at INTEGER NOT NULL,
        created_at      INTEGER NOT NULL,
        sent_at         INTEGER
      );
      CREATE INDEX outgoing_mail_pending ON outgoing_mail (status, next_attempt_at);
      CREATE INDEX outgoing_mail_by_task ON outgoing_mail (task_id);

      CREATE TABLE repo_status (
        repo_id       TEXT PRIMARY KEY,
        state         TEXT    NOT NULL,
        detail        TEXT,
        last_error    TEXT,
        next_retry_at INTEGER,
        last_mail_at  INTEGER,
        updated_at    INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    description: 'network sandbox: per-request log, sandbox flag on tasks',
    sql: `
      CREATE TABLE network_requests (
        id              INTEGER PRIMARY KEY,
        repo_id         TEXT    NOT NULL,
        conversation_id TEXT    NOT NULL,
        task_id         INTEGER NOT NULL,
        at              INTEGER NOT NULL,
        method          TEXT    NOT NULL,
        host            TEXT    NOT NULL,
        port            INTEGER NOT NULL,
        path            TEXT    NOT NULL,
        status          INTEGER NOT NULL,
        allowed         INTEGER NOT NULL,
        rule            TEXT    NOT NULL,
        masked          INTEGER NOT NULL DEFAULT 0,
        duration_ms     INTEGER NOT NULL,
        error           TEXT
      );
      CREATE INDEX network_requests_by_conversation ON network_requests (repo_id, conversation_id, id);
      CREATE INDEX network_requests_by_task ON network_requests (task_id, id);

      -- NULL: the container has not started yet; 1: behind the sandbox proxy; 0: unrestricted network.
      ALTER TABLE tasks ADD COLUMN network_sandbox INTEGER;
    `,
  },
  {
    version: 3,
    description: 'conversation GC: archived conversations keep a summary row; current image per repository',
    sql: `
      -- A conversation idle for longer than execution.conversation_max_age_days is archived: its
      -- directory is deleted, its tasks' raw mail and events are emptied, and this row stays as the
      -- summary the dashboard lists. An archived id is never resumed and never handed out again.
      ALTER TABLE conversations ADD COLUMN archived_at INTEGER;
      ALTER TABLE conversations ADD COLUMN task_count INTEGER;

      -- Which image each repository's tasks use, so old images can be pruned without removing the
      -- one in use. The newest last_used_at of a repository is its current image.
      CREATE TABLE repo_images (
        repo_id      TEXT    NOT NULL,
        tag          TEXT    NOT NULL,
        last_used_at INTEGER NOT NULL,
        PRIMARY KEY (repo_id, tag)
      );
    `,
  },
  {
    version: 4,
    description: 'rate limits: indexes over counted tasks, replies sent about limits',
    sql: `
      -- The tasks that count towards the rates (see src/store/rate-limit.ts): accepted ones, and
      -- too-large mails (each got a reply). Partial indexes keep the count bounded by the limit
      -- however many rate-limited mails a flood leaves in the window.
      CREATE INDEX tasks_rate_by_repo ON tasks (repo_id, created_at)
        WHERE status <> 'rejected' OR reason = 'too_large';
      CREATE INDEX tasks_rate_by_sender ON tasks (repo_id, sender, created_at)
        WHERE status <> 'rejected' OR reason = 'too_large';

      -- When a sender was last told about a limit, so that a flood gets one reply, not one each.
      CREATE TABLE limit_notices (
        repo_id  TEXT    NOT NULL,
        sender   TEXT    NOT NULL,
        reason   TEXT    NOT NULL,
        sent_at  INTEGER NOT NULL,
        PRIMARY KEY (repo_id, sender, reason)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    description: 'outgoing mail: when the send in progress started',
    sql: `
      -- Set right before a mail is handed to the SMTP server, cleared with its outcome. A pending
      -- mail that still has it was being sent when the process died: the server may or may not
      -- have taken it, so it is sent again (same Message-ID) and logged as possibly duplicated.
      ALTER TABLE outgoing_mail ADD COLUMN sending_since INTEGER;
    `,
  },
  {
    version: 6,
    description: 'dashboard login sessions',
    sql: `
      -- One row per dashboard login (see src/dashboard/sessions.ts). The session id lives only in
      -- the browser's cookie; this keeps an HMAC of it keyed by the auth token, so the file does not
      -- hold a usable cookie and a changed token finds none of the old sessions.
      CREATE TABLE dashboard_sessions (
        id_hash      TEXT    PRIMARY KEY,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX dashboard_sessions_by_last_seen ON dashboard_sessions (last_seen_at);
    `,
  },
  {
    version: 7,
    description: 'rejected mail: headers only, a daily byte budget, counted per source',
    sql: `
      -- What of a mail's bytes messages.raw holds: the whole message; its header section only
      -- (rejected mail, and mail too large to download); or nothing (rejected after the day's
      -- budget for rejected mail was spent). messages.size stays the original size.
      ALTER TABLE messages ADD COLUMN stored TEXT NOT NULL DEFAULT 'whole'
        CHECK (stored IN ('whole', 'headers', 'none'));

      -- The connecting server's IP as the repo's own mail server recorded it (src/email/connecting-ip.ts),
      -- when known: with the sender, the "source" that rejected mail is counted by.
      ALTER TABLE tasks ADD COLUMN source_ip TEXT;

      -- The per-source counts of rejected mail (src/store/rate-limit.ts). Only mail refused by the
      -- screen (spoofed, unauthorized, loops, malformed) counts; the WHERE is repeated word for word
      -- by the queries so SQLite uses these partial indexes, which keep a check bounded by the limit.
      CREATE INDEX tasks_screened_out_by_sender ON tasks (sender, created_at)
        WHERE status = 'rejected' AND reason IN ('auth_failed', 'unauthorized', 'loop', 'malformed');
      CREATE INDEX tasks_screened_out_by_ip ON tasks (source_ip, created_at)
        WHERE status = 'rejected' AND reason IN ('auth_failed', 'unauthorized', 'loop', 'malformed') AND source_ip IS NOT NULL;

      -- One row per UTC day: what rejected mail cost that day, across all repositories. The budget
      -- (rejected_mail.max_stored_bytes_per_day) is checked against stored_bytes; cap_hit_at is set
      -- once, when the day's budget ran out, so that is logged once a day.
      CREATE TABLE rejected_mail_days (
        day            INTEGER PRIMARY KEY,
        stored_bytes   INTEGER NOT NULL DEFAULT 0,
        headers_stored INTEGER NOT NULL DEFAULT 0,
        metadata_only  INTEGER NOT NULL DEFAULT 0,
        dropped        INTEGER NOT NULL DEFAULT 0,
        cap_hit_at     INTEGER
      );
    `,
  },
  {
    version: 8,
    description: 'outgoing mail: messages with attachments spooled to a file',
    sql: `
      -- A reply with attachments is written (complete MIME) to a file under the repo's storage
      -- and streamed from there to SMTP, so neither a task thread nor the sender holds it in
      -- memory and the database stays small. raw is then empty; raw_size is the file's size.
      -- The file is deleted once the mail is sent or given up.
      ALTER TABLE outgoing_mail ADD COLUMN raw_path TEXT;
      ALTER TABLE outgoing_mail ADD COLUMN raw_size INTEGER;
    `,
  },
  {
    version: 9,
    description: 'task stages: when each stage of a task began',
    sql: `
      -- One row per stage a task's runner entered (repo-inputs, conversation, image, agent,
      -- outcome), for the dashboard (where a running task is) and the overhead benchmark (how long
      -- each stage took). Kept apart from task_events, whose rows count against task_output.max_events.
      CREATE TABLE task_stages (
        id       INTEGER PRIMARY KEY,
        task_id  INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        attempt  INTEGER NOT NULL,
        stage    TEXT    NOT NULL,
        at       INTEGER NOT NULL
      );
      CREATE INDEX task_stages_by_task ON task_stages (task_id, id);
    `,
  },
  {
    version: 10,
    description: 'task control: budget_exceeded, paused and merged tasks; budgets, effort, retries, merges, schedules',
    // The CHECK of tasks.status gains three values. SQLite cannot ALTER a CHECK; a rebuild of the
    // table would cascade-delete every task's events through the foreign keys. Loosening a CHECK
    // does not change what is stored, so the statement in the schema is rewritten in place, the
    // procedure sqlite.org documents for this ("ALTER TABLE: making other kinds of table schema
    // changes"); see migrate() for how it runs.
    rewriteSchema: [
      {
        table: 'tasks',
        from: "('queued','running','completed','failed','timeout','cancelled','interrupted','rejected')",
        to: "('queued','running','completed','failed','timeout','cancelled','interrupted','rejected','budget_exceeded','paused','merged')",
      },
    ],
    sql: `
      -- The budget (USD) the run was given (--max-budget-usd): what a running task may still
      -- spend counts against the spending caps until its cost is known.
      ALTER TABLE tasks ADD COLUMN budget_usd REAL;
      -- The effort level the run was given (--effort), pinned per conversation like the model.
      ALTER TABLE tasks ADD COLUMN effort TEXT;
      ALTER TABLE conversations ADD COLUMN effort TEXT;
      -- Automatic retries after transient API failures (overloaded, rate limited, 5xx, network),
      -- each resuming the same Claude session.
      ALTER TABLE tasks ADD COLUMN api_retries INTEGER NOT NULL DEFAULT 0;
      -- A mail handled by another task (status 'merged'): delivered live into that task's running
      -- session, or coalesced with other follow-ups into that next task of its conversation.
      ALTER TABLE tasks ADD COLUMN merged_into INTEGER REFERENCES tasks(id);
      ALTER TABLE tasks ADD COLUMN merge_kind TEXT CHECK (merge_kind IN ('live', 'coalesced'));
      CREATE INDEX tasks_by_merged_into ON tasks (merged_into) WHERE merged_into IS NOT NULL;
      -- The schedule (repos.<id>.schedules.<name>) that started the task; NULL for mail.
      ALTER TABLE tasks ADD COLUMN schedule TEXT;
    `,
  },
  {
    version: 11,
    description: 'spend: indexes for the spending caps and the spend shown per repository and sender',
    // The spend queries (src/store/spend.ts) sum the cost of tasks finished in a window; these
    // partial indexes hold only tasks with a cost, and the queries repeat their WHERE word for word.
    sql: `
      CREATE INDEX tasks_spend_by_repo ON tasks (repo_id, finished_at) WHERE cost_usd IS NOT NULL;
      CREATE INDEX tasks_spend_by_sender ON tasks (repo_id, sender, finished_at) WHERE cost_usd IS NOT NULL;
    `,
  },
  {
    version: 12,
    description: 'scheduled tasks: the last slot handled per repository and schedule',
    // One row per (repository, schedule). last_slot is the cron slot (ms since the epoch) most
    // recently handled: run, or taken as the starting point when the schedule was first seen. The
    // scheduler only ever moves it forward (UPDATE … WHERE last_slot < ?), so however many timers
    // or restarts race, each slot is taken once, and slots missed while the daemon was down
    // collapse into the one newest slot.
    sql: `
      CREATE TABLE schedule_slots (
        repo_id    TEXT NOT NULL,
        schedule   TEXT NOT NULL,
        last_slot  INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (repo_id, schedule)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 13,
    description: 'network log: the refs a git push created or moved, as the upstream accepted them',
    // A JSON array of ref names (refs/heads/…), NULL for every request that was not an accepted
    // push. The reply names the task's pushed branches from these rows (src/proxy/git-push-watch.ts).
    sql: `
      ALTER TABLE network_requests ADD COLUMN pushed TEXT;
    `,
  },
  {
    version: 14,
    description: 'network log: headers the proxy stripped as foreign credentials, per request',
    sql: `ALTER TABLE network_requests ADD COLUMN stripped INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    version: 15,
    description: 'dashboard: what each task was asked and answered, the files kept per task, a search index',
    sql: `
      -- The request as the agent received it (quoted history stripped) and the whole text body, per
      -- task. Written by the runner when it reads the mail, or by the dashboard on first view of a
      -- task that never ran, from the stored raw message.
      CREATE TABLE task_requests (
        task_id   INTEGER PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
        text      TEXT    NOT NULL,
        original  TEXT    NOT NULL
      );

      -- The reply's markdown as the agent wrote it (ack, reply, error, notice), shown rendered by the dashboard.
      ALTER TABLE outgoing_mail ADD COLUMN body_markdown TEXT;

      -- Attachments of a task's mail ('in') and the outbox files sent with its reply ('out'), kept
      -- for download up to a size cap. path is relative to the repository's storage directory; NULL
      -- when the file was not kept (note says why). Deleted with the conversation by GC.
      CREATE TABLE task_files (
        id            INTEGER PRIMARY KEY,
        task_id       INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        direction     TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
        name          TEXT    NOT NULL,
        size          INTEGER NOT NULL,
        content_type  TEXT    NOT NULL,
        path          TEXT,
        sha256        TEXT,
        note          TEXT,
        created_at    INTEGER NOT NULL
      );
      CREATE INDEX task_files_by_task ON task_files (task_id, id);

      -- Full-text search over subjects and request texts; rowid = tasks.id. Kept current by triggers,
      -- so no writer has to remember it.
      CREATE VIRTUAL TABLE task_search USING fts5(subject, body, tokenize = 'unicode61 remove_diacritics 2');
      INSERT INTO task_search (rowid, subject, body) SELECT id, subject, '' FROM tasks;
      CREATE TRIGGER task_search_insert AFTER INSERT ON tasks BEGIN
        INSERT INTO task_search (rowid, subject, body) VALUES (new.id, new.subject, '');
      END;
      CREATE TRIGGER task_search_subject AFTER UPDATE OF subject ON tasks BEGIN
        UPDATE task_search SET subject = new.subject WHERE rowid = new.id;
      END;
      CREATE TRIGGER task_search_delete AFTER DELETE ON tasks BEGIN
        DELETE FROM task_search WHERE rowid = old.id;
      END;
      CREATE TRIGGER task_search_request AFTER INSERT ON task_requests BEGIN
        UPDATE task_search SET body = new.text WHERE rowid = new.task_id;
      END;
      CREATE TRIGGER task_search_request_update AFTER UPDATE OF text ON task_requests BEGIN
        UPDATE task_search SET body = new.text WHERE rowid = new.task_id;
      END;
    `,
  },
  {
    version: 16,
    description: 'dashboard: API tokens scoped to repositories (airut token create)',
    sql: `
      -- Only the SHA-256 of a token is kept (src/store/api-tokens.ts says why no slow hash).
      -- repos: a JSON array of repository ids. A revoked token keeps its row, so \`airut token list\`
      -- shows what existed and a name is never silently reused.
      CREATE TABLE api_tokens (
        id            INTEGER PRIMARY KEY,
        name          TEXT    NOT NULL UNIQUE,
        token_sha256  TEXT    NOT NULL UNIQUE,
        repos         TEXT    NOT NULL,
        rights        TEXT    NOT NULL CHECK (rights IN ('read', 'submit')),
        created_at    INTEGER NOT NULL,
        revoked_at    INTEGER,
        last_used_at  INTEGER
      );
    `,
  },
  {
    version: 17,
    description: 'task API: tasks submitted over HTTP, and the text each task answered',
    sql: `
      -- A task that came in by POST /api/tasks or …/messages (src/dashboard/routes/submit.ts). token:
      -- the API token's name, NULL for admin access. reply_to: where its replies are mailed; NULL: never
      -- mailed, read over the API. new_conversation: 1 when tasks.conversation_id was assigned at
      -- acceptance for a new conversation (the claim starts it rather than resuming it). budget_usd:
      -- what the caller asked for, at most the repository's budget.task_usd.
      CREATE TABLE api_tasks (
        task_id          INTEGER PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
        token            TEXT,
        reply_to         TEXT,
        new_conversation INTEGER NOT NULL DEFAULT 0,
        budget_usd       REAL
      );

      -- The text of a task's last reply (reply, error or notice) as composed, whether or not it was
      -- mailed: GET /api/tasks/:id gives it as the task's result.
      CREATE TABLE task_results (
        task_id   INTEGER PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
        text      TEXT    NOT NULL,
        is_error  INTEGER NOT NULL,
        at        INTEGER NOT NULL
      );
    `,
  },
  {
    version: 18,
    description: 'completion webhooks: the repositories that want them, and one durable delivery per finished task',
    sql: `
      -- Which repositories have a webhook for which event, mirrored from the configuration by the
      -- webhook sender at start-up and on every reload. The store reads it when a task finishes, in
      -- the transaction that records the outcome, so a delivery is queued by whoever finishes the
      -- task (runner, dispatcher, recovery, the dashboard's Stop) without any of them knowing config.
      CREATE TABLE webhook_subscriptions (
        repo_id  TEXT NOT NULL,
        event    TEXT NOT NULL,
        PRIMARY KEY (repo_id, event)
      ) WITHOUT ROWID;

      -- The durable webhook outbox, like outgoing_mail. payload is the task as it finished (JSON),
      -- frozen then: a paused task that later runs again must not change what was reported.
      CREATE TABLE webhook_deliveries (
        id               INTEGER PRIMARY KEY,
        -- A random UUID, sent as X-Airut-Delivery: unique across databases, so receivers can dedupe
        -- even after the daemon was moved to a new database file.
        delivery_key     TEXT    NOT NULL UNIQUE,
        repo_id          TEXT    NOT NULL,
        task_id          INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        -- The run (tasks.attempts) that ended. One report per run and event: recovery records an
        -- abandoned task, then the dispatcher records it again with the sender's notice.
        task_attempt     INTEGER NOT NULL,
        event            TEXT    NOT NULL,
        payload          TEXT    NOT NULL,
        status           TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        last_error       TEXT,
        next_attempt_at  INTEGER NOT NULL,
        created_at       INTEGER NOT NULL,
        delivered_at     INTEGER,
        UNIQUE (task_id, task_attempt, event)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at, id);
    `,
  },
  {
    version: 19,
    description: 'tasks across several repositories: the companions a task asks for, the set a conversation keeps',
    sql: `
      -- What the task's mail (Repos: line) or API call asked for, as JSON [{name, branch?, access?}];
      -- NULL: the primary alone. Checked by the runner at the conversation's first task.
      ALTER TABLE tasks ADD COLUMN requested_repos TEXT;

      -- One row per repository of a conversation, the primary flagged; written at its first task,
      -- read by every follow-up (which keeps the set whatever its mail says). name is the mount
      -- name (/repos/<name>), unique within the conversation.
      CREATE TABLE conversation_repos (
        repo_id          TEXT    NOT NULL,
        conversation_id  TEXT    NOT NULL,
        name             TEXT    NOT NULL,
        access           TEXT    NOT NULL CHECK (access IN ('read', 'write')),
        branch           TEXT,
        is_primary       INTEGER NOT NULL DEFAULT 0,
        UNIQUE (repo_id, conversation_id, name)
      );
    `,
  },
  {
    version: 20,
    description: '/metrics in constant time: per-repository totals kept by triggers',
    // /metrics used to count the whole tasks table on every scrape (~300 ms at 100,000 tasks). These
    // small tables hold the same figures, kept by triggers, so every writer (dispatcher, runner
    // threads, the CLI, the dashboard) updates them in its own transaction and nothing can drift.
    // Deleting a task takes it out of the gauges (live) but not out of the counters (removed keeps
    // it): Prometheus counters never go down. The duration buckets are fixed here; they must equal
    // DURATION_BOUNDS in src/store/metric-totals.ts.
    sql: `
      -- Tasks per repository, status and (for rejected mail only, else '') reason. live: rows in the
      -- tasks table now; removed: rows deleted while in that status.
      CREATE TABLE metric_task_counts (
        repo_id  TEXT    NOT NULL,
        status   TEXT    NOT NULL,
        reason   TEXT    NOT NULL,
        live     INTEGER NOT NULL DEFAULT 0,
        removed  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (repo_id, status, reason)
      ) WITHOUT ROWID;
      -- Run time of finished tasks per repository, per bucket (not cumulative; bucket 11 is above
      -- the last bound). sum_ms is exact, being a sum of integers.
      CREATE TABLE metric_task_durations (
        repo_id  TEXT    NOT NULL,
        bucket   INTEGER NOT NULL,
        n        INTEGER NOT NULL DEFAULT 0,
        sum_ms   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (repo_id, bucket)
      ) WITHOUT ROWID;
      -- Cost of tasks with a recorded cost, per repository and sender ('' for none); tasks: how many.
      CREATE TABLE metric_spend (
        repo_id  TEXT    NOT NULL,
        sender   TEXT    NOT NULL,
        tasks    INTEGER NOT NULL DEFAULT 0,
        usd      REAL    NOT NULL DEFAULT 0,
        PRIMARY KEY (repo_id, sender)
      ) WITHOUT ROWID;
      -- Outgoing mail with status 'pending', per repository.
      CREATE TABLE metric_replies_pending (
        repo_id  TEXT    PRIMARY KEY,
        n        INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;

      INSERT INTO metric_task_counts (repo_id, status, reason, live)
        SELECT repo_id, status, CASE WHEN tasks.status = 'rejected' THEN COALESCE(tasks.reason, 'unknown') ELSE '' END, count(*) FROM tasks GROUP BY 1, 2, 3;
      INSERT INTO metric_task_durations (repo_id, bucket, n, sum_ms)
        SELECT repo_id, CASE WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 5 THEN 0 WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 15 THEN 1 WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 30 THEN 2 WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 60 THEN 3 WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 120 THEN 4 WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 300 THEN 5 WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 600 THEN 6 WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 1200 THEN 7 WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 1800 THEN 8 WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 3600 THEN 9 WHEN max(tasks.finished_at - tasks.started_at, 0) / 1000.0 <= 7200 THEN 10 ELSE 11 END, count(*), sum(max(finished_at - started_at, 0))
          FROM tasks WHERE tasks.status IN ('completed','failed','timeout','cancelled','interrupted','budget_exceeded','paused') AND tasks.started_at IS NOT NULL AND tasks.finished_at IS NOT NULL GROUP BY 1, 2;
      INSERT INTO metric_spend (repo_id, sender, tasks, usd)
        SELECT repo_id, COALESCE(sender, ''), count(*), total(cost_usd) FROM tasks WHERE cost_usd IS NOT NULL GROUP BY 1, 2;
      INSERT INTO metric_replies_pending (repo_id, n)
        SELECT repo_id, count(*) FROM outgoing_mail WHERE status = 'pending' GROUP BY 1;

      CREATE TRIGGER metric_tasks_insert AFTER INSERT ON tasks BEGIN
        INSERT INTO metric_task_counts (repo_id, status, reason, live) VALUES (new.repo_id, new.status, CASE WHEN new.status = 'rejected' THEN COALESCE(new.reason, 'unknown') ELSE '' END, 1)
          ON CONFLICT (repo_id, status, reason) DO UPDATE SET live = live + 1;
        INSERT INTO metric_task_durations (repo_id, bucket, n, sum_ms)
          SELECT new.repo_id, CASE WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 5 THEN 0 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 15 THEN 1 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 30 THEN 2 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 60 THEN 3 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 120 THEN 4 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 300 THEN 5 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 600 THEN 6 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 1200 THEN 7 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 1800 THEN 8 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 3600 THEN 9 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 7200 THEN 10 ELSE 11 END, 1, max(new.finished_at - new.started_at, 0) WHERE new.status IN ('completed','failed','timeout','cancelled','interrupted','budget_exceeded','paused') AND new.started_at IS NOT NULL AND new.finished_at IS NOT NULL
          ON CONFLICT (repo_id, bucket) DO UPDATE SET n = n + 1, sum_ms = sum_ms + excluded.sum_ms;
        INSERT INTO metric_spend (repo_id, sender, tasks, usd)
          SELECT new.repo_id, COALESCE(new.sender, ''), 1, new.cost_usd WHERE new.cost_usd IS NOT NULL
          ON CONFLICT (repo_id, sender) DO UPDATE SET tasks = tasks + 1, usd = usd + excluded.usd;
      END;
      CREATE TRIGGER metric_tasks_count_update AFTER UPDATE OF repo_id, status, reason ON tasks
        WHEN old.repo_id IS NOT new.repo_id OR old.status IS NOT new.status OR CASE WHEN old.status = 'rejected' THEN COALESCE(old.reason, 'unknown') ELSE '' END IS NOT CASE WHEN new.status = 'rejected' THEN COALESCE(new.reason, 'unknown') ELSE '' END
      BEGIN
        UPDATE metric_task_counts SET live = live - 1 WHERE repo_id = old.repo_id AND status = old.status AND reason = CASE WHEN old.status = 'rejected' THEN COALESCE(old.reason, 'unknown') ELSE '' END;
        INSERT INTO metric_task_counts (repo_id, status, reason, live) VALUES (new.repo_id, new.status, CASE WHEN new.status = 'rejected' THEN COALESCE(new.reason, 'unknown') ELSE '' END, 1)
          ON CONFLICT (repo_id, status, reason) DO UPDATE SET live = live + 1;
      END;
      CREATE TRIGGER metric_tasks_duration_update AFTER UPDATE OF repo_id, status, started_at, finished_at ON tasks
        WHEN old.repo_id IS NOT new.repo_id OR old.status IS NOT new.status OR old.started_at IS NOT new.started_at OR old.finished_at IS NOT new.finished_at
      BEGIN
        UPDATE metric_task_durations SET n = n - 1, sum_ms = sum_ms - max(old.finished_at - old.started_at, 0)
          WHERE old.status IN ('completed','failed','timeout','cancelled','interrupted','budget_exceeded','paused') AND old.started_at IS NOT NULL AND old.finished_at IS NOT NULL AND repo_id = old.repo_id AND bucket = CASE WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 5 THEN 0 WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 15 THEN 1 WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 30 THEN 2 WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 60 THEN 3 WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 120 THEN 4 WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 300 THEN 5 WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 600 THEN 6 WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 1200 THEN 7 WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 1800 THEN 8 WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 3600 THEN 9 WHEN max(old.finished_at - old.started_at, 0) / 1000.0 <= 7200 THEN 10 ELSE 11 END;
        INSERT INTO metric_task_durations (repo_id, bucket, n, sum_ms)
          SELECT new.repo_id, CASE WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 5 THEN 0 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 15 THEN 1 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 30 THEN 2 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 60 THEN 3 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 120 THEN 4 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 300 THEN 5 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 600 THEN 6 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 1200 THEN 7 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 1800 THEN 8 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 3600 THEN 9 WHEN max(new.finished_at - new.started_at, 0) / 1000.0 <= 7200 THEN 10 ELSE 11 END, 1, max(new.finished_at - new.started_at, 0) WHERE new.status IN ('completed','failed','timeout','cancelled','interrupted','budget_exceeded','paused') AND new.started_at IS NOT NULL AND new.finished_at IS NOT NULL
          ON CONFLICT (repo_id, bucket) DO UPDATE SET n = n + 1, sum_ms = sum_ms + excluded.sum_ms;
      END;
      CREATE TRIGGER metric_tasks_spend_update AFTER UPDATE OF repo_id, sender, cost_usd ON tasks
        WHEN old.repo_id IS NOT new.repo_id OR old.sender IS NOT new.sender OR old.cost_usd IS NOT new.cost_usd
      BEGIN
        UPDATE metric_spend SET tasks = tasks - 1, usd = usd - old.cost_usd
          WHERE old.cost_usd IS NOT NULL AND repo_id = old.repo_id AND sender = COALESCE(old.sender, '');
        INSERT INTO metric_spend (repo_id, sender, tasks, usd)
          SELECT new.repo_id, COALESCE(new.sender, ''), 1, new.cost_usd WHERE new.cost_usd IS NOT NULL
          ON CONFLICT (repo_id, sender) DO UPDATE SET tasks = tasks + 1, usd = usd + excluded.usd;
      END;
      -- Only the gauges let go of a deleted task; its duration and cost stay counted.
      CREATE TRIGGER metric_tasks_delete AFTER DELETE ON tasks BEGIN
        UPDATE metric_task_counts SET live = live - 1, removed = removed + 1
          WHERE repo_id = old.repo_id AND status = old.status AND reason = CASE WHEN old.status = 'rejected' THEN COALESCE(old.reason, 'unknown') ELSE '' END;
      END;

      CREATE TRIGGER metric_replies_insert AFTER INSERT ON outgoing_mail WHEN new.status = 'pending' BEGIN
        INSERT INTO metric_replies_pending (repo_id, n) VALUES (new.repo_id, 1) ON CONFLICT (repo_id) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER metric_replies_update AFTER UPDATE OF repo_id, status ON outgoing_mail
        WHEN (old.status = 'pending' OR new.status = 'pending') AND (old.status IS NOT new.status OR old.repo_id IS NOT new.repo_id)
      BEGIN
        UPDATE metric_replies_pending SET n = n - 1 WHERE old.status = 'pending' AND repo_id = old.repo_id;
        INSERT INTO metric_replies_pending (repo_id, n) SELECT new.repo_id, 1 WHERE new.status = 'pending'
          ON CONFLICT (repo_id) DO UPDATE SET n = n + 1;
      END;
      CREATE TRIGGER metric_replies_delete AFTER DELETE ON outgoing_mail WHEN old.status = 'pending' BEGIN
        UPDATE metric_replies_pending SET n = n - 1 WHERE repo_id = old.repo_id;
      END;
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Brings the schema to `upTo` (the newest by default; tests stop earlier to build an old database). */
export function migrate(db: Database.Database, upTo: number = SCHEMA_VERSION): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new AirutError(
      'DATABASE_TOO_NEW',
      `the database schema is version ${current} but this airut-ts knows only up to ${SCHEMA_VERSION}; ` +
        'upgrade airut-ts or point `database:` at another file',
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current || m.version > upTo) continue;
    db.transaction(() => {
      for (const r of m.rewriteSchema ?? []) rewriteTableSql(db, r);
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}

/**
 * Replaces text in a table's CREATE statement, for changes that leave the stored rows valid as they
 * are (a CHECK that accepts more values). sqlite.org's documented procedure: writable_schema, update
 * the statement, bump schema_version so every connection re-reads the schema, then check integrity.
 */
function rewriteTableSql(db: Database.Database, r: SchemaRewrite): void {
  const row = db.prepare(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?`).get(r.table) as { sql: string } | undefined;
  if (!row || row.sql.split(r.from).length !== 2) {
    throw new AirutError('DATABASE_SCHEMA_UNEXPECTED', `table ${r.table} does not have the definition this migration expects; restore a backup or point \`database:\` at a new file`);
  }
  const version = db.pragma('schema_version', { simple: true }) as number;
  db.unsafeMode(true);
  try {
    db.pragma('writable_schema = ON');
    db.prepare(`UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?`).run(row.sql.replace(r.from, r.to), r.table);
    db.pragma(`schema_version = ${version + 1}`);
    db.pragma('writable_schema = OFF');
  } finally {
    db.unsafeMode(false);
  }
  const check = db.pragma('integrity_check', { simple: true }) as string;
  if (check !== 'ok') throw new AirutError('DATABASE_SCHEMA_UNEXPECTED', `the database failed its integrity check after migrating ${r.table}: ${check}`);
}
