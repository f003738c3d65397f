/**
 * The one state model of a running herald (STYLE.md §10): the control API
 * serves it, the `routes` CLI prints it as tables or `--json`, and metrics
 * read it. model.ts holds the shapes and their builders, explain.ts the
 * reasoning of `routes explain`, lookup.ts the longest match of `routes lookup`, events.ts the event stream's shapes,
 * format.ts the text of wire values; src/cli/render.ts renders them.
 */
export * from './model.js';
export * from './explain.js';
export * from './lookup.js';
export * from './events.js';
export * from './format.js';
