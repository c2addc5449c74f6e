/** deploy/kubernetes/*.yaml: every document is a schema-valid object, and the Role grants exactly what the backend uses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { V1Role, V1RoleBinding } from '@kubernetes/client-node';
import { validateKubeObject } from './schema-check.ts';

const DEPLOY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../deploy/kubernetes');

function documents(file: string): Array<{ kind: string; metadata: { name: string; namespace?: string } }> {
  const docs = parseAllDocuments(fs.readFileSync(path.join(DEPLOY, file), 'utf8'));
  return docs.map((d) => {
    assert.deepEqual(d.errors, [], `${file}: YAML errors`);
    return d.toJS() as { kind: string; metadata: { name: string; namespace?: string } };
  });
}

/**
 * Every API request the Kubernetes backend makes (kube-api.ts), as "resource verb". A new request
 * there needs a new rule in rbac.yaml and a line here; a rule here that nothing uses is a right the
 * daemon should not hold.
 */
const BACKEND_USES = [
  'networking.k8s.io/networkpolicies create', 'networking.k8s.io/networkpolicies delete', 'networking.k8s.io/networkpolicies get', 'networking.k8s.io/networkpolicies list',
  'pods create', 'pods delete', 'pods get', 'pods list', 'pods watch',
  'pods/log get',
  'secrets create', 'secrets delete', 'secrets get', 'secrets list',
];

for (const file of ['namespace.yaml', 'rbac.yaml']) {
  test(`${file}: every document validates against the Kubernetes schema`, () => {
    const docs = documents(file);
    assert.ok(docs.length > 0);
    for (const doc of docs) {
      assert.doesNotThrow(() => validateKubeObject(doc), `${doc.kind} ${doc.metadata.name}`);
      if (doc.kind !== 'Namespace') assert.equal(doc.metadata.namespace, 'airut', `${doc.kind} ${doc.metadata.name} is namespaced to airut`);
    }
  });
}

test('namespace.yaml: the namespace, a default-deny policy for every pod, a quota and container defaults', () => {
  const docs = documents('namespace.yaml');
  assert.deepEqual(docs.map((d) => d.kind), ['Namespace', 'NetworkPolicy', 'ResourceQuota', 'LimitRange']);
  const deny = docs[1] as unknown as { spec: { podSelector: object; policyTypes: string[]; ingress?: unknown; egress?: unknown } };
  assert.deepEqual(deny.spec.podSelector, {}, 'selects every pod');
  assert.deepEqual(deny.spec.policyTypes, ['Ingress', 'Egress']);
  assert.equal(deny.spec.ingress, undefined);
  assert.equal(deny.spec.egress, undefined);
});

test('rbac.yaml: the Role grants exactly the verbs the backend uses, in its namespace only', () => {
  const docs = documents('rbac.yaml');
  assert.deepEqual(docs.map((d) => d.kind), ['ServiceAccount', 'Role', 'RoleBinding']);
  const role = docs[1] as unknown as V1Role;
  const granted: string[] = [];
  for (const rule of role.rules ?? []) {
    assert.equal(rule.resourceNames, undefined);
    assert.equal(rule.nonResourceURLs, undefined);
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs) granted.push(`${group === '' ? '' : `${group}/`}${resource} ${verb}`);
      }
    }
  }
  assert.ok(!granted.some((g) => g.includes('*')), 'no wildcards');
  assert.deepEqual(granted.sort(), [...BACKEND_USES].sort());
  assert.equal(new Set(granted).size, granted.length, 'no rule repeated');
});

test('rbac.yaml: the RoleBinding binds that Role to the airut ServiceAccount', () => {
  const docs = documents('rbac.yaml');
  const binding = docs[2] as unknown as V1RoleBinding;
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: docs[1]!.metadata.name });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: docs[0]!.metadata.name, namespace: 'airut' }]);
});
