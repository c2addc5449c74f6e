export { GitMirror, type GitMirrorOptions, type TreeFile } from './mirror.ts';
export { redact, redactUrlCredentials, credentialsOf } from './redact.ts';
