/**
 * The `graphql:` block of a `url_prefixes` entry in `.airut/network-allowlist.yaml` (Airut's
 * format): which GraphQL operations a request admitted by that entry may carry.
 *
 *   graphql:
 *     queries: ["*"]                          # field-name patterns per operation type
 *     mutations: [createPullRequest, "update*"]
 *     # subscriptions omitted: none allowed
 *
 * The block's presence turns on default-deny: an omitted or empty list allows no operation of that
 * type. Patterns are fnmatch-style (`*`, `?`) and case-sensitive, as GraphQL names are. The block
 * itself must be a mapping: a bare `graphql:` (null) is refused rather than read as "no filter",
 * because a reader of the file would take it for a filter that is on.
 */
export interface GraphqlRule {
  readonly queries: readonly string[];
  readonly mutations: readonly string[];
  readonly subscriptions: readonly string[];
}

export type GraphqlOperationType = 'query' | 'mutation' | 'subscription';

export const GRAPHQL_RULE_KEYS: Readonly<Record<GraphqlOperationType, keyof GraphqlRule>> = Object.freeze({
  query: 'queries',
  mutation: 'mutations',
  subscription: 'subscriptions',
});

/** A GraphQL name (`[_A-Za-z][_0-9A-Za-z]*`) with `*` and `?` allowed anywhere. */
const FIELD_PATTERN = /^[_A-Za-z0-9*?]+$/;

/**
 * Validates `raw` (the value of `url_prefixes[i].graphql`) and returns the rule, or adds every
 * problem to `problems` (each naming `at`, e.g. `url_prefixes[2].graphql.mutations[0]`) and
 * returns undefined.
 */
export function parseGraphqlRule(raw: unknown, at: string, problems: string[]): GraphqlRule | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${at}: must be a mapping with optional queries, mutations and subscriptions lists (write {} to refuse every operation, or remove the key to check no GraphQL at all)`);
    return undefined;
  }
  const r = raw as Record<string, unknown>;
  const before = problems.length;
  for (const key of Object.keys(r)) {
    if (!['queries', 'mutations', 'subscriptions'].includes(key)) problems.push(`${at}: unknown key "${key}" (queries, mutations, subscriptions)`);
  }
  const rule: GraphqlRule = {
    queries: patternList(r.queries, `${at}.queries`, problems),
    mutations: patternList(r.mutations, `${at}.mutations`, problems),
    subscriptions: patternList(r.subscriptions, `${at}.subscriptions`, problems),
  };
  return problems.length === before ? Object.freeze(rule) : undefined;
}

function patternList(raw: unknown, at: string, problems: string[]): readonly string[] {
  if (raw === undefined || raw === null) return Object.freeze([]);
  if (!Array.isArray(raw)) {
    problems.push(`${at}: must be a list of field-name patterns such as ["*"] or [createIssue, "update*"]`);
    return Object.freeze([]);
  }
  const out: string[] = [];
  raw.forEach((p, i) => {
    if (typeof p !== 'string' || !FIELD_PATTERN.test(p)) problems.push(`${at}[${i}]: "${String(p)}" is not a field-name pattern (letters, digits, _ * ?)`);
    else out.push(p);
  });
  return Object.freeze(out);
}
