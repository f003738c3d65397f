/**
 * herald's daemon configuration (herald.yaml): schema, loading with
 * file:line:column errors, the effective config for `herald check`, the JSON
 * Schema, and the diff a reload uses. See docs/configuration.md.
 */
export { parseConfig, parseConfigWithLocator, type Locate } from './parse.js';
export { loadConfig, loadConfigWithLocator } from './load.js';
export { configWarnings, formatWarning, warningState, WARNING_CODES, type ConfigWarning, type WarningCode, type WarningState } from './warnings.js';
export { ConfigError, formatIssue, formatPath, type ConfigIssue } from './errors.js';
export { effectiveConfig, type Plain } from './effective.js';
export { diffConfig, SESSION_FIELDS, ROUTE_FIELDS, OTHER_FIELDS, type ConfigDiff, type PeerChange } from './diff.js';
export { toPeerConfig } from './peer-config.js';
export { parseDuration, formatDuration } from './duration.js';
export { Secret, REDACTED } from './secret.js';
export { configSchema } from './schema.js';
export type * from './types.js';
export { DNS_TYPES, DNS_RCODES, LOG_LEVELS } from './types.js';

/** YAML text of a value (`herald check` prints the effective config with it). */
export { stringify as toYaml } from 'yaml';
