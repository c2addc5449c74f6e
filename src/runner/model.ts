/**
 * The model of a new conversation: a `+alias` sub-address picks one of the short aliases the
 * Claude CLI understands, or a full model name the operator allowed; anything else falls back to
 * the repository's default (and the caller logs it).
 */
import type { Effort } from '../config/types.ts';

export const MODEL_ALIASES: readonly string[] = ['opus', 'sonnet', 'haiku'];
const EFFORTS: readonly Effort[] = ['low', 'medium', 'high', 'max'];

/** A stored effort level (a task's preset, a conversation's pin), or null when none or not a level. */
export function asEffort(value: string | null): Effort | null {
  return EFFORTS.find((e) => e === value) ?? null;
}

export interface ModelChoice {
  readonly model: string;
  /** The hint that was ignored, if any. */
  readonly ignoredHint: string | null;
}

export function chooseModel(hint: string | null, repoDefault: string, allowedModels: readonly string[]): ModelChoice {
  if (!hint) return { model: repoDefault, ignoredHint: null };
  const h = hint.toLowerCase();
  if (MODEL_ALIASES.includes(h)) return { model: h, ignoredHint: null };
  const allowed = allowedModels.find((m) => m.toLowerCase() === h);
  if (allowed) return { model: allowed, ignoredHint: null };
  return { model: repoDefault, ignoredHint: hint };
}
