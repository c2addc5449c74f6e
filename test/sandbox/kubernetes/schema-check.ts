/**
 * Validates a Kubernetes object twice: against the official OpenAPI schema with kubernetes-models
 * (types, enums, required fields), and for unknown field names against the official client's own
 * model of every type (the OpenAPI schema allows extra properties, so a misspelt
 * `allowPrivilegeEscalaton` would pass it and be silently dropped by the API server).
 */
import * as k8s from '@kubernetes/client-node';
import { LimitRange, Namespace, Pod, ResourceQuota, Secret, ServiceAccount } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';

type Validator = (obj: never) => { validate(): void };
const MODELS: Record<string, { model: Validator; clientType: string }> = {
  Pod: { model: (o) => new Pod(o), clientType: 'V1Pod' },
  Secret: { model: (o) => new Secret(o), clientType: 'V1Secret' },
  NetworkPolicy: { model: (o) => new NetworkPolicy(o), clientType: 'V1NetworkPolicy' },
  Namespace: { model: (o) => new Namespace(o), clientType: 'V1Namespace' },
  ResourceQuota: { model: (o) => new ResourceQuota(o), clientType: 'V1ResourceQuota' },
  LimitRange: { model: (o) => new LimitRange(o), clientType: 'V1LimitRange' },
  ServiceAccount: { model: (o) => new ServiceAccount(o), clientType: 'V1ServiceAccount' },
  Role: { model: (o) => new Role(o), clientType: 'V1Role' },
  RoleBinding: { model: (o) => new RoleBinding(o), clientType: 'V1RoleBinding' },
};

interface Attribute { readonly baseName: string; readonly type: string }
type ModelClass = { getAttributeTypeMap(): Attribute[] };
const PRIMITIVES = new Set(['string', 'number', 'boolean', 'Date', 'IntOrString', 'any', 'object']);

function unknownFields(value: unknown, type: string, at: string, out: string[]): void {
  if (value === null || value === undefined || PRIMITIVES.has(type)) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, array[1]!, `${at}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [key, v] of Object.entries(value as object)) unknownFields(v, map[1]!, `${at}.${key}`, out);
    return;
  }
  const cls = (k8s as unknown as Record<string, ModelClass | undefined>)[type];
  if (cls === undefined || typeof cls.getAttributeTypeMap !== 'function') throw new Error(`no client model for type ${type} at ${at}`);
  const attributes = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [key, v] of Object.entries(value as object)) {
    const t = attributes.get(key);
    if (t === undefined) out.push(`${at}.${key}`);
    else unknownFields(v, t, `${at}.${key}`, out);
  }
}

/** Throws when `obj` is not a valid object of its `kind`, or has a field the API does not know. */
export function validateKubeObject(obj: unknown): void {
  const kind = (obj as { kind?: unknown }).kind;
  const entry = typeof kind === 'string' ? MODELS[kind] : undefined;
  if (entry === undefined) throw new Error(`no validator for kind ${String(kind)}`);
  entry.model(structuredClone(obj) as never).validate();
  const unknown: string[] = [];
  unknownFields(obj, entry.clientType, kind as string, unknown);
  if (unknown.length > 0) throw new Error(`unknown fields: ${unknown.join(', ')}`);
}
