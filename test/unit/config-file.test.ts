// VIGIL_CONFIG is a YAML or a JSON file (SPEC §4): both give the same configuration, VIGIL_*
// variables win over either, and a file that cannot be used is one message naming it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadNodeConfig, parseConfigText, parseNodeConfig } from '../../adapters/compose/config.js';
import { BUILT, expectOneLine, freePort, tempDir, vigil, vigilStart } from './cli-run.js';

const dir = tempDir('vigil-config-');
afterAll(() => dir.remove());
const file = (name: string, text: string): string => {
  const p = join(dir.dir, name);
  writeFileSync(p, text);
  return p;
};

const YAML = `# a node of ward A
host: 0.0.0.0
port: 9090
dataDir: /var/lib/vigil
cluster: ward-a
analytics: off          # YAML 1.2: the string "off", not false
shards: 4
natsUrl: nats://nats:4222
redisUrl: redis://redis:6379
clinical:
  news2:
    alertAt: 5
`;
const JSON_TEXT = JSON.stringify({
  host: '0.0.0.0', port: 9090, dataDir: '/var/lib/vigil', cluster: 'ward-a', analytics: 'off', shards: 4,
  natsUrl: 'nats://nats:4222', redisUrl: 'redis://redis:6379', clinical: { news2: { alertAt: 5 } },
});

async function rejected(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return (err as Error).message;
}

describe('VIGIL_CONFIG as YAML or JSON', () => {
  it('a YAML file and the same settings as JSON give the same configuration', async () => {
    const y = await loadNodeConfig({ VIGIL_CONFIG: file('node.yaml', YAML) });
    const j = await loadNodeConfig({ VIGIL_CONFIG: file('node.json', JSON_TEXT) });
    expect(y).toEqual(j);
    expect(y).toMatchObject({ host: '0.0.0.0', port: 9090, cluster: 'ward-a', analytics: 'off', shards: 4, clinical: { news2: { alertAt: 5 } } });
    expect(y).toEqual(parseNodeConfig(JSON.parse(JSON_TEXT) as Record<string, unknown>, {}));
  });

  it('.yml, and any other name, read as YAML (which reads JSON too)', async () => {
    expect((await loadNodeConfig({ VIGIL_CONFIG: file('node.yml', 'port: 7000\n') })).port).toBe(7000);
    expect((await loadNodeConfig({ VIGIL_CONFIG: file('vigil.conf', '{"port": 7001}') })).port).toBe(7001);
    expect((await loadNodeConfig({ VIGIL_CONFIG: file('empty.yaml', '# nothing set\n') })).port).toBe(8080);
  });

  it('VIGIL_* variables win over the file, whatever its format', async () => {
    for (const name of ['win.yaml', 'win.json']) {
      const p = file(name, name.endsWith('.json') ? JSON_TEXT : YAML);
      const c = await loadNodeConfig({ VIGIL_CONFIG: p, VIGIL_PORT: '9191', VIGIL_ANALYTICS: 'on' });
      expect([c.port, c.analytics, c.cluster]).toEqual([9191, 'on', 'ward-a']);
    }
  });

  it('a file that cannot be used is one ConfigError naming VIGIL_CONFIG and the path', async () => {
    const missing = join(dir.dir, 'missing.yaml');
    expect(await rejected(loadNodeConfig({ VIGIL_CONFIG: missing }))).toBe(`VIGIL_CONFIG ${missing}: no such file`);
    const bad = file('bad.yaml', 'port: [1\n');
    expect(await rejected(loadNodeConfig({ VIGIL_CONFIG: bad }))).toMatch(new RegExp(`^VIGIL_CONFIG ${bad}: not valid YAML: .*line \\d+, column \\d+$`));
    const badJson = file('bad.json', '{"port": 1,}');
    expect(await rejected(loadNodeConfig({ VIGIL_CONFIG: badJson }))).toMatch(new RegExp(`^VIGIL_CONFIG ${badJson}: not valid JSON: `));
    expect(await rejected(loadNodeConfig({ VIGIL_CONFIG: file('dup.yaml', 'port: 1\nport: 2\n') }))).toMatch(/not valid YAML: Map keys must be unique/);
    expect(await rejected(loadNodeConfig({ VIGIL_CONFIG: file('list.yaml', '- port: 1\n') }))).toMatch(/must hold a mapping of settings .*not a list$/);
    expect(await rejected(loadNodeConfig({ VIGIL_CONFIG: file('scalar.yaml', '8080\n') }))).toMatch(/must hold a mapping of settings .*not a number$/);
    expect(await rejected(loadNodeConfig({ VIGIL_CONFIG: dir.dir }))).toBe(`VIGIL_CONFIG ${dir.dir}: a directory, not a file`);
  });

  it('settings are checked the same way from either format: unknown keys and bad values are named', async () => {
    expect(await rejected(loadNodeConfig({ VIGIL_CONFIG: file('typo.yaml', 'prot: 8080\n') }))).toBe('unknown setting "prot" (the settings are listed in the README)');
    expect(await rejected(loadNodeConfig({ VIGIL_CONFIG: file('port.json', '{"port": 80800}') }))).toMatch(/^invalid setting port \(VIGIL_PORT\)/);
    expect(await rejected(loadNodeConfig({ VIGIL_CONFIG: file('nats.yaml', 'natsUrl: http://nats:4222\nredisUrl: redis://r:6379\n') })))
      .toBe('invalid setting natsUrl (VIGIL_NATS_URL): a nats:// or tls:// URL is needed, not http://');
  });

  it('store URL schemes: nats:// or tls://, redis:// or rediss://, http:// or https://', async () => {
    const ok = await loadNodeConfig({ VIGIL_NATS_URL: 'tls://nats:4222', VIGIL_REDIS_URL: 'rediss://r:6380', VIGIL_CLICKHOUSE_URL: 'https://ch:8443' });
    expect([ok.natsUrl, ok.redisUrl, ok.clickhouseUrl]).toEqual(['tls://nats:4222', 'rediss://r:6380', 'https://ch:8443']);
    expect(await rejected(loadNodeConfig({ VIGIL_REDIS_URL: 'memcached://r:11211' }))).toBe('invalid setting redisUrl (VIGIL_REDIS_URL): a redis:// or rediss:// URL is needed, not memcached://');
  });

  it('parseConfigText reads JSON by extension and YAML otherwise', () => {
    expect(parseConfigText('{"port": 1}', 'x.JSON')).toEqual({ port: 1 });
    expect(parseConfigText('port: 1', 'x.yaml')).toEqual({ port: 1 });
    expect(() => parseConfigText('port: 1', 'x.json')).toThrow(/not valid JSON/);
  });
});

describe.skipIf(!BUILT)('vigil start with VIGIL_CONFIG (node bin/vigil.js)', () => {
  it.each(['yaml', 'json'])('a %s file sets the port the node listens on', async (format) => {
    const port = await freePort();
    const settings = { port, analytics: 'off', demoToken: 'demo-token-123', adminToken: 'admin-token-123' };
    const text = format === 'json' ? JSON.stringify(settings) : Object.entries(settings).map(([k, v]) => `${k}: ${v}`).join('\n');
    const p = file(`start.${format}`, text);
    const node = await vigilStart({ VIGIL_CONFIG: p, VIGIL_DATA_DIR: join(dir.dir, `data-${format}`) }, dir.dir);
    try {
      expect(node.url).toBe(`http://127.0.0.1:${port}`);
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    } finally {
      await node.stop();
    }
  }, 60_000);

  it('a broken file stops the start with one line, exit 2', () => {
    const p = file('broken.yaml', 'port: [1\n');
    const r = vigil(['start'], { cwd: dir.dir, env: { VIGIL_CONFIG: p } });
    expect(r.status).toBe(2);
    expect(expectOneLine(r)).toMatch(new RegExp(`^vigil start: VIGIL_CONFIG ${p}: not valid YAML: `));
  });
});
