import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, configJsonSchemaText } from '../../../src/config/json-schema.js';

describe('docs/herald.schema.json', () => {
  it('equals the schema generated from src/config/schema.ts (run: npx tsx src/config/write-schema.ts)', () => {
    const committed = readFileSync(new URL('../../../docs/herald.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(configJsonSchemaText());
  });

  it('is strict, requires router_id and asn, and shows defaults', () => {
    const s = configJsonSchema() as {
      additionalProperties: boolean;
      required: string[];
      properties: Record<string, { items?: { properties: Record<string, { default?: unknown }>; additionalProperties: boolean } }>;
    };
    expect(s.additionalProperties).toBe(false);
    expect(s.required).toEqual(['router_id', 'asn']);
    const peer = s.properties['peers']!.items!;
    expect(peer.additionalProperties).toBe(false);
    expect(peer.properties['hold_time']!.default).toBe(90);
    expect(peer.properties['port']!.default).toBe(179);
    expect(s.properties['services']!.items!.properties['interval']!.default).toBe('2s');
  });
});
