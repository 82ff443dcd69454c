import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseGatewayConfig } from '../../src/config/load.js';

const dir = new URL('../../deploy/kubernetes/', import.meta.url);
const files = readdirSync(dir).filter((name) => name.endsWith('.yaml'));

type Doc = Record<string, any>;

function load(name: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(new URL(name, dir), 'utf8'));
  for (const doc of docs) expect(doc.errors, `${name}: YAML errors`).toEqual([]);
  return docs.map((doc) => doc.toJS() as Doc);
}

describe.each(files)('deploy/kubernetes/%s', (name) => {
  const docs = load(name);

  test('every object has apiVersion, kind and metadata.name', () => {
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(doc['apiVersion'], JSON.stringify(doc).slice(0, 80)).toEqual(expect.any(String));
      expect(doc['kind']).toEqual(expect.any(String));
      expect(doc['metadata']?.name).toMatch(/^[a-z0-9-]+$/);
    }
  });

  test('Deployments select their own pods and run the gateway with probes on the admin port', () => {
    for (const deployment of docs.filter((doc) => doc['kind'] === 'Deployment')) {
      const template = deployment['spec'].template;
      expect(template.metadata.labels).toMatchObject(deployment['spec'].selector.matchLabels);
      for (const container of template.spec.containers) expect(container.image).toEqual(expect.any(String));
      const gateway = template.spec.containers.find((c: Doc) => c['name'] === 'oauth-gateway');
      if (gateway === undefined) continue;
      expect(gateway.args.slice(0, 3)).toEqual(['node', 'dist/main.js', 'run']);
      expect(gateway.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
      expect(gateway.readinessProbe.httpGet.path).toBe('/readyz');
      expect(gateway.ports.map((p: Doc) => p['name'])).toEqual(expect.arrayContaining(['http', 'admin']));
      expect(gateway.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(gateway.resources.requests).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      });
    }
  });

  test('Services target the gateway port, never an app port', () => {
    for (const service of docs.filter(
      (doc) => doc['kind'] === 'Service' && !String(doc['metadata'].name).includes('redis'),
    )) {
      for (const port of service['spec'].ports) expect(port.targetPort).toBe('http');
    }
  });

  test('the embedded gateway.yaml is a valid configuration', () => {
    const configMaps = docs.filter((doc) => doc['kind'] === 'ConfigMap' && doc['data']?.['gateway.yaml']);
    expect(configMaps.length).toBe(1);
    const raw = parseAllDocuments(configMaps[0]!['data']['gateway.yaml'])[0]!.toJS();
    const config = parseGatewayConfig(raw, { INTROSPECTION_SECRET: 'x', REDIS_URL: 'redis://redis:6379' });
    expect(config.routes.length).toBeGreaterThan(0);
    expect(config.admin.port).toBe(9090);
  });
});

test('Dockerfile: Node 24 slim, non-root, healthcheck, SIGTERM, the same start command CI runs', () => {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  expect(dockerfile).toMatch(/^FROM node:24-slim AS build$/m);
  expect(dockerfile).toMatch(/^USER node$/m);
  expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
  expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/healthz/m);
  expect(dockerfile).toMatch(/^CMD \["node", "dist\/main\.js", "run"\]$/m);
  expect(dockerfile).toMatch(/OAUTH_GATEWAY_CONFIG=/);
  expect(dockerfile).toMatch(/npm prune --omit=dev/);
});

test('Dockerfile: the sidecar memory setting is in NODE_OPTIONS, which the bench starts the gateway with', async () => {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  expect(dockerfile).toMatch(/NODE_OPTIONS="--max-semi-space-size=\d+"/);
  // @ts-expect-error: plain JavaScript module of the bench
  const { SHIPPED_NODE_OPTIONS } = (await import('../../bench/lib/targets.mjs')) as {
    SHIPPED_NODE_OPTIONS: string;
  };
  expect(dockerfile).toContain(`NODE_OPTIONS="${SHIPPED_NODE_OPTIONS}"`);
});
