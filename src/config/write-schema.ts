/**
 * Write docs/herald.schema.json from the zod schema:
 *   npx tsx src/config/write-schema.ts
 * test/src/config/json-schema.test.ts fails when the committed file is stale.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText } from './json-schema.js';

export const SCHEMA_FILE = fileURLToPath(new URL('../../docs/herald.schema.json', import.meta.url));

await writeFile(SCHEMA_FILE, configJsonSchemaText());
console.log(`wrote ${SCHEMA_FILE}`);
