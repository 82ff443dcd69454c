import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { renderConfigReference } from '../../src/config/reference.js';
import { gatewayJsonSchema } from '../../src/config/schema.js';

test('docs/configuration.md is exactly what the schema renders (run `npm run docs:config`)', () => {
  const checkedIn = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  expect(checkedIn).toBe(renderConfigReference());
});

test('every leaf key of the schema appears in the reference', () => {
  const reference = renderConfigReference();
  const walk = (schema: Record<string, unknown>, path: string): string[] => {
    const properties = schema['properties'] as Record<string, Record<string, unknown>> | undefined;
    if (!properties) return [path];
    return Object.entries(properties).flatMap(([key, child]) => walk(child, path ? `${path}.${key}` : key));
  };
  for (const key of walk(gatewayJsonSchema(), '')) expect(reference).toContain(`| \`${key}\` |`);
});
