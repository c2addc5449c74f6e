/**
 * The per-task NetworkPolicy: no ingress, and egress only to the daemon's pod gateway (one IP, one
 * TCP port). No DNS rule: pods reach the gateway by IP and every other connection goes through the
 * proxy behind it, which resolves names itself. This is enforced only where the cluster's network
 * plugin enforces NetworkPolicy (docs/scale-out.md). Pure.
 */
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { gatewayEndpoint, type Gateway } from './spec-checks.ts';

export function buildTaskNetworkPolicy(o: {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The labels that select exactly this task's pod. */
  readonly podSelector: Readonly<Record<string, string>>;
  readonly gateway: Gateway;
}): V1NetworkPolicy {
  const { cidr } = gatewayEndpoint(o.gateway);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: o.name, namespace: o.namespace, labels: { ...o.labels } },
    spec: {
      podSelector: { matchLabels: { ...o.podSelector } },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [],
      egress: [{ to: [{ ipBlock: { cidr } }], ports: [{ protocol: 'TCP', port: o.gateway.port }] }],
    },
  };
}
