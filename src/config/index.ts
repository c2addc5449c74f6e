/** The configuration area's public surface; other areas import from here. */
export { loadServerConfig, parseServerConfig } from './load.ts';
export { resolveConfigPath } from './path.ts';
export { formatConfigSummary } from './summary.ts';
export { runConfigCheck, type CheckOutput, type TextSink } from './check.ts';
export { isLoopbackHost, defaultSecurityForPort } from './network.ts';
export { isBareAddress, normalizeSender } from './address.ts';
export type * from './types.ts';
