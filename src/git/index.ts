export { GitMirror, type GitMirrorOptions, type UpdateOptions, type TreeFile } from './mirror.ts';
export { redact, redactUrlCredentials, credentialsOf } from './redact.ts';
