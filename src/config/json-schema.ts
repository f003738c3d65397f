/**
 * The config schema published as JSON Schema (draft 2020-12) for editors
 * (yaml-language-server: `# yaml-language-server: $schema=...`) and other
 * tools. Generated from schema.ts, so it cannot drift; docs/herald.schema.json
 * is this output, checked by a test.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

/** Produce the JSON Schema of herald.yaml (the input side: defaults shown, fields with defaults optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
  return schema as Record<string, unknown>;
}

/** Render the JSON Schema as the committed file's text. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
