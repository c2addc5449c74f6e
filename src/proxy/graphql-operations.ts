/**
 * The GraphQL operation check (Airut's graphql-operation-allowlist, made stricter where the issue
 * asks): does a request that a `url_prefixes` entry with a `graphql` block admitted carry only
 * operations that block lists? Pure: bytes and the query string in, a verdict out.
 *
 * What is judged: the operation type and the top-level field names of every operation in the
 * document (not only the one `operationName` picks: a server that ignores `operationName`, or
 * picks differently, must not be able to run an unlisted operation). Fields reached through inline
 * fragments and named fragment spreads at the root count (Airut refuses root spreads outright; we
 * resolve them, which lets real clients through and hides nothing). Aliases are judged by the real
 * field name. `__typename`, `__schema` and `__type` are field names like any other: a pattern
 * must match them (`"*"` does), as in Airut. A batch (a JSON array) is allowed only if every
 * element is; a GET's `?query=` is checked like a body, and a request carrying both is checked in
 * both places, since servers differ in which one they prefer.
 *
 * Fail-secure: whatever cannot be conclusively allowed is refused — an unparsable or
 * content-encoded body, a body over GRAPHQL_MAX_BODY_BYTES, a persisted query (a hash or document
 * id the server would look up instead of a query text we can read), type-system definitions, an
 * unknown fragment, an `operationName` that names no operation, a JSON object with a key twice.
 */
// graphql/language alone: the package root loads the whole of graphql-js (666 modules, ~0.5 s at every start).
import { Kind, parse, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql/language';
import { globToRegExp } from './allowlist.ts';
import { hasDuplicateKeys } from './json-duplicate-keys.ts';
import { GRAPHQL_RULE_KEYS, type GraphqlOperationType, type GraphqlRule } from './graphql-rule.ts';

/** Larger bodies are refused unread: parsing is CPU the agent could otherwise spend at will. */
export const GRAPHQL_MAX_BODY_BYTES = 1024 * 1024;
/** The parser stops after this many tokens (a 1 MiB body could otherwise hold ~500k). */
const MAX_TOKENS = 100_000;
/** Keys by which clients name a stored (persisted) document instead of sending its text. */
const PERSISTED_ID_KEYS = ['id', 'documentId', 'doc_id', 'queryId'];

export interface GraphqlVerdict {
  readonly allowed: boolean;
  /** `type/field` of the first operation (or of the refused field) for the network log. */
  readonly tag?: string;
  /** Airut's detail: the refused field, `mutation:<blocked>`, `<unparseable>`, `<too-large>`... */
  readonly detail?: string;
  /** For refusals: what was refused and why, in a sentence for the agent. */
  readonly reason?: string;
}

export interface GraphqlRequestParts {
  /** The URL's query string without `?` ('' if none). */
  readonly search: string;
  readonly body: Buffer;
  /** The Content-Encoding header, if any. */
  readonly contentEncoding?: string;
}

const refuse = (detail: string, reason: string, tag?: string): GraphqlVerdict => ({ allowed: false, detail, reason, ...(tag ? { tag } : {}) });

/** Checks a whole request (URL parameters and body) against `rule`. */
export function checkGraphqlRequest(req: GraphqlRequestParts, rule: GraphqlRule): GraphqlVerdict {
  if (req.body.length > GRAPHQL_MAX_BODY_BYTES) return refuse('<too-large>', `the request body is over ${GRAPHQL_MAX_BODY_BYTES} bytes, the most the GraphQL check reads`);
  const payloads: unknown[] = [];
  const fromUrl = payloadFromSearch(req.search);
  if (fromUrl) {
    if ('problem' in fromUrl) return fromUrl.problem;
    payloads.push(fromUrl.payload);
  }
  if (req.body.length > 0) {
    const fromBody = payloadsFromBody(req.body, req.contentEncoding);
    if (!Array.isArray(fromBody)) return fromBody;
    payloads.push(...fromBody);
  }
  if (payloads.length === 0) return refuse('<unparseable>', 'the request carries no GraphQL operation (no body and no ?query=)');
  let first: GraphqlVerdict | undefined;
  for (const p of payloads) {
    const verdict = checkPayload(p, rule);
    if (!verdict.allowed) return verdict;
    first ??= verdict;
  }
  return first!;
}

function payloadFromSearch(search: string): { payload: unknown } | { problem: GraphqlVerdict } | null {
  const params = new URLSearchParams(search);
  const keys = ['query', 'operationName', 'variables', 'extensions', ...PERSISTED_ID_KEYS];
  if (!keys.some((k) => params.has(k))) return null;
  for (const k of keys) {
    if (params.getAll(k).length > 1) return { problem: refuse('<unparseable>', `the URL names "${k}" more than once; servers differ in which one they use`) };
  }
  const payload: Record<string, unknown> = {};
  for (const k of keys) {
    const v = params.get(k);
    if (v === null) continue;
    if (k === 'extensions' || k === 'variables') {
      try {
        payload[k] = JSON.parse(v) as unknown;
      } catch {
        return { problem: refuse('<unparseable>', `the URL parameter "${k}" is not valid JSON`) };
      }
    } else payload[k] = v;
  }
  return { payload };
}

function payloadsFromBody(body: Buffer, contentEncoding: string | undefined): unknown[] | GraphqlVerdict {
  if (contentEncoding && contentEncoding.trim().toLowerCase() !== 'identity') {
    return refuse('<unparseable>', `the body is sent with Content-Encoding "${contentEncoding.slice(0, 40)}", which the GraphQL check cannot read; send it uncompressed`);
  }
  let parsed: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    parsed = JSON.parse(text) as unknown;
  } catch {
    return refuse('<unparseable>', 'the body is not JSON (a GraphQL request must be {"query": ...} or a list of them)');
  }
  if (hasDuplicateKeys(text)) return refuse('<unparseable>', 'an object in the body names the same key twice, and servers differ in which one they use');
  if (!Array.isArray(parsed)) return [parsed];
  if (parsed.length === 0) return refuse('<batched>', 'the body is an empty batch');
  return parsed;
}

/** One `{query, operationName, extensions}` object. */
function checkPayload(p: unknown, rule: GraphqlRule): GraphqlVerdict {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return refuse('<unparseable>', 'a GraphQL request must be a JSON object with a "query" string');
  const o = p as Record<string, unknown>;
  const idKey = PERSISTED_ID_KEYS.find((k) => o[k] !== undefined && o[k] !== null);
  if (idKey) return refuse('<persisted-query>', `the request names a stored document ("${idKey}"), which the GraphQL check cannot read; send the query text instead`);
  if (typeof o.query !== 'string') {
    const persisted = typeof o.extensions === 'object' && o.extensions !== null && 'persistedQuery' in o.extensions;
    return persisted
      ? refuse('<persisted-query>', 'the request is a persisted-query hash without its query text, which the GraphQL check cannot read; send the query text')
      : refuse('<unparseable>', 'the request has no "query" string');
  }
  const opName = o.operationName;
  if (opName !== undefined && opName !== null && typeof opName !== 'string') return refuse('<operation-name-invalid>', '"operationName" must be a string');
  let doc: DocumentNode;
  try {
    doc = parse(o.query, { noLocation: true, maxTokens: MAX_TOKENS });
  } catch (err) {
    return refuse('<unparseable>', `the query is not valid GraphQL: ${(err as Error).message.slice(0, 200)}`);
  }
  return checkDocument(doc, typeof opName === 'string' ? opName : null, rule);
}

function checkDocument(doc: DocumentNode, opName: string | null, rule: GraphqlRule): GraphqlVerdict {
  const ops: OperationDefinitionNode[] = [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION) ops.push(d);
    else if (d.kind === Kind.FRAGMENT_DEFINITION) {
      if (fragments.has(d.name.value)) return refuse('<unparseable>', `the fragment "${d.name.value}" is defined twice`);
      fragments.set(d.name.value, d);
    } else return refuse('<unparseable>', `the document contains a ${d.kind}, which is not an executable definition`);
  }
  if (ops.length === 0) return refuse('<unparseable>', 'the document contains no operation');
  if (opName !== null && ops.filter((op) => op.name?.value === opName).length !== 1) {
    return refuse('<operation-name-invalid>', `"operationName" ${JSON.stringify(opName.slice(0, 100))} does not name exactly one operation in the document`);
  }
  if (opName === null && ops.length > 1) return refuse('<operation-name-invalid>', 'the document has several operations and no "operationName"');
  let first: GraphqlVerdict | undefined;
  for (const op of ops) {
    const fields = rootFields(op.selectionSet, fragments);
    if (typeof fields === 'string') return refuse('<fragment-spread>', fields);
    const verdict = checkOperation(op.operation as GraphqlOperationType, fields, rule);
    if (!verdict.allowed) return verdict;
    first ??= verdict;
  }
  return first!;
}

/**
 * The top-level field names of an operation, through inline fragments and fragment spreads at
 * any depth of fragment nesting (each fragment once: a cycle is refused by the server and adds no
 * name). A spread of an undefined fragment returns a reason instead.
 */
function rootFields(selectionSet: SelectionSetNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>): string[] | string {
  const fields: string[] = [];
  const expanded = new Set<string>();
  const pending: SelectionSetNode[] = [selectionSet];
  while (pending.length > 0) {
    for (const sel of pending.shift()!.selections) {
      if (sel.kind === Kind.FIELD) fields.push(sel.name.value);
      else if (sel.kind === Kind.INLINE_FRAGMENT) pending.push(sel.selectionSet);
      else {
        const name = sel.name.value;
        const def = fragments.get(name);
        if (!def) return `the fragment "${name.slice(0, 100)}" is spread but not defined`;
        if (!expanded.has(name)) {
          expanded.add(name);
          pending.push(def.selectionSet);
        }
      }
    }
  }
  return fields;
}

function checkOperation(type: GraphqlOperationType, fields: readonly string[], rule: GraphqlRule): GraphqlVerdict {
  const key = GRAPHQL_RULE_KEYS[type];
  const patterns = rule[key];
  if (fields.length === 0) return refuse('<unparseable>', `the ${type} selects no field`);
  if (patterns.length === 0) return refuse(`${type}:<blocked>`, `${type} operations are not allowed (graphql.${key} is empty)`, `${type}/${fields[0]}`);
  for (const field of fields) {
    if (!patterns.some((p) => globToRegExp(p, false).test(field))) {
      return refuse(field, `the ${type} field "${field}" is not allowed (no pattern in graphql.${key} matches it)`, `${type}/${field}`);
    }
  }
  return { allowed: true, tag: `${type}/${fields[0]}` };
}
