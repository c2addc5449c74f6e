export {
  loadRepoConfig,
  loadRepoConfigFromMirror,
  RepoConfigError,
  REPO_CONFIG_DEFAULTS,
  REPO_CONFIG_PATH,
  type RepoConfig,
  type RepoFileSource,
} from './load.ts';
