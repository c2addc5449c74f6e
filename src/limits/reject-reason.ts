/**
 * Why a mail was recorded without becoming a task. The screen's reasons (spoofed, unauthorized,
 * loops, unreadable) and the limits' (too large, too many tasks) share one union because they share
 * the `tasks.reason` column and the dashboard's filters.
 */
export type RejectReason = 'auth_failed' | 'unauthorized' | 'loop' | 'malformed' | 'too_large' | 'rate_limited' | 'spend_capped';
