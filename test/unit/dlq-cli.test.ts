// `vigil dlq`: --help prints its usage and exits 0; each way it commonly fails is one line on
// stderr naming the option or URL, with a non-zero exit (2 usage, 1 the rest). Against a fake node
// (node:http), so what is tested is the CLI's side alone; the real node is
// test/analytics/dlq-replay.integration.test.ts.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT, expectOneLine, freePort, tempDir, vigil, vigilAsync } from './cli-run.js';

// Each case spawns the CLI (one or two processes): slow on a busy machine.
describe.skipIf(!BUILT)('vigil dlq (node bin/vigil.js, after npm run build)', { timeout: 60_000 }, () => {
  const cwd = tempDir('vigil-cli-dlq-');
  afterAll(() => cwd.remove());
  const run = (args: string[], env: Record<string, string> = {}) => vigil(['dlq', ...args], { cwd: cwd.dir, env });

  it.each([['--help'], ['-h'], ['list', '--help'], ['replay', '-h'], ['replay', '--code', 'x', '--help']])('vigil dlq %s prints its usage and exits 0', (...args) => {
    const r = run(args);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^usage: vigil dlq list .*\n\s+vigil dlq replay --code C --since T/);
    for (const opt of ['--code', '--since', '--limit', '--cursor', '--json', '--url', '--token']) expect(r.stdout).toContain(opt);
  });

  it('vigil help dlq is the same text, and vigil help lists dlq', () => {
    expect(vigil(['help', 'dlq']).stdout).toBe(run(['--help']).stdout);
    expect(vigil(['help']).stdout).toMatch(/^\s+dlq list .* dlq replay --code C --since T/m);
  });

  it.each([
    [[], 'vigil dlq: a subcommand is required: list or replay (vigil dlq --help for usage)'],
    [['purge'], 'vigil dlq: unknown subcommand "purge": list or replay (vigil dlq --help for usage)'],
    [['list', 'extra'], 'vigil dlq: unexpected argument "extra" (vigil dlq --help for usage)'],
    [['list', '--frobnicate'], "vigil dlq: Unknown option '--frobnicate' (vigil dlq --help for usage)"],
    [['list', '--token', 't', '--limit', '0'], 'vigil dlq: --limit 0: a whole number from 1 to 1000 (vigil dlq --help for usage)'],
    [['replay', '--token', 't', '--code', 'x', '--since', '0', '--limit', '20000'], 'vigil dlq: --limit 20000: a whole number from 1 to 10000 (vigil dlq --help for usage)'],
    [['list', '--token', 't', '--url', 'not a url'], 'vigil dlq: --url not a url: not a URL (e.g. http://127.0.0.1:8080)'],
    [['list'], 'vigil dlq: a tenant token is required (--token or VIGIL_TOKEN)'],
    [['replay', '--token', 't', '--since', '2026-01-01T00:00:00Z'], 'vigil dlq: --code and --since are required: replay is always of one code over a time range (vigil dlq --help for usage)'],
    [['replay', '--token', 't', '--code', 'out_of_range'], 'vigil dlq: --code and --since are required: replay is always of one code over a time range (vigil dlq --help for usage)'],
  ])('usage errors are one line, exit 2: vigil dlq %j', (args, line) => {
    const r = run(args);
    expect(r.status).toBe(2);
    expect(expectOneLine(r)).toBe(line);
    expect(r.stdout).toBe('');
  });

  it('no node at the URL: one line naming it, exit 1 (list and replay)', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    for (const args of [['list'], ['replay', '--code', 'x', '--since', '0']]) {
      const r = run([...args, '--url', url], { VIGIL_TOKEN: 't' });
      expect(r.status, args.join(' ')).toBe(1);
      expect(expectOneLine(r)).toBe(`vigil dlq: cannot reach the node at ${url}: connection refused`);
    }
  });

  describe('against a fake node', () => {
    let server: Server;
    let url: string;
    const seen: { method: string; url: string; auth: string; body: string }[] = [];
    let answer: { status: number; body: string } = { status: 200, body: '{}' };
    beforeAll(async () => {
      server = createServer((req: IncomingMessage, res) => {
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => {
          seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization ?? '', body });
          res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
        });
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(() => server.close());

    it('list sends the token and the filters, prints one line per letter and how to get the next page', async () => {
      answer = {
        status: 200, body: JSON.stringify({
          dead_letters: [
            { letter_id: '1', event_id: 'e-2', code: 'out_of_range', message: 'payload.peep_cm_h2o 45 above 30', source: 'replay', index: 0, rejected_at: '2026-12-03T10:00:01.000Z', event: {}, replayable: true, replay: null },
            { letter_id: '2', event_id: null, code: 'invalid_json', message: 'not JSON', source: 'http', index: null, rejected_at: '2026-12-03T10:00:00.000Z', event: 'x', replayable: false, replay: { at: '2026-12-03T10:05:00.000Z', outcome: 'rejected' } },
          ],
          next: '1764756000000.2',
        }),
      };
      seen.length = 0;
      const r = await vigilAsync(['dlq', 'list', '--url', `${url}/`, '--code', 'out_of_range', '--since', '2026-12-03T00:00:00Z', '--limit', '2'], { cwd: cwd.dir, env: { VIGIL_DEMO_TOKEN: 'demo-tok' } });
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(seen).toEqual([{ method: 'GET', url: '/v1/dlq?code=out_of_range&since=2026-12-03T00%3A00%3A00Z&limit=2', auth: 'Bearer demo-tok', body: '' }]);
      expect(r.stdout.split('\n')).toEqual([
        '2026-12-03T10:00:01.000Z  out_of_range  e-2  replay  -  payload.peep_cm_h2o 45 above 30',
        '2026-12-03T10:00:00.000Z  invalid_json  (no event id)  http  replayed rejected  not JSON',
        'more: vigil dlq list --cursor 1764756000000.2 --code out_of_range --since 2026-12-03T00:00:00Z',
        '',
      ]);
    });

    it('replay posts code and since (epoch ms as a number) and prints the counts; all rejected again is exit 1', async () => {
      answer = { status: 200, body: JSON.stringify({ replayed: 2, accepted: 1, duplicates: 0, rejected: 1, already_replayed: 0, not_replayable: 0, more: false, until: '2026-12-03T10:00:00.000Z' }) };
      seen.length = 0;
      const ok = await vigilAsync(['dlq', 'replay', '--url', url, '--token', 'tok', '--code', 'unknown_event_type', '--since', '1764720000000'], { cwd: cwd.dir });
      expect([ok.status, ok.stderr]).toEqual([0, '']);
      expect(seen).toEqual([{ method: 'POST', url: '/v1/dlq:replay', auth: 'Bearer tok', body: '{"code":"unknown_event_type","since":1764720000000}' }]);
      expect(JSON.parse(ok.stdout)).toMatchObject({ replayed: 2, accepted: 1, rejected: 1 });

      answer = { status: 200, body: JSON.stringify({ replayed: 3, accepted: 0, duplicates: 0, rejected: 3, already_replayed: 0, not_replayable: 0, more: true, until: '2026-12-03T10:00:00.000Z' }) };
      const bad = await vigilAsync(['dlq', 'replay', '--url', url, '--token', 'tok', '--code', 'x', '--since', '2026-12-03T00:00:00Z', '--limit', '3'], { cwd: cwd.dir });
      expect(bad.status).toBe(1);
      expect(JSON.parse(seen[1]!.body)).toEqual({ code: 'x', since: '2026-12-03T00:00:00Z', limit: 3 });
      const lines = bad.stderr.trim().split('\n');
      expect(lines[0]).toBe('vigil dlq replay: more letters wait in this range; run the same command again to replay them');
      expect(lines[1]).toMatch(/^vigil dlq replay: all 3 replayed letters were rejected again \(now new letters; vigil dlq list --since \S+ shows why\)$/);
    });

    it('an error answer is one line naming the method, URL, status and the error, exit 1', async () => {
      answer = { status: 401, body: JSON.stringify({ error: { code: 'unauthorized', message: 'a valid tenant token is required' } }) };
      const r = await vigilAsync(['dlq', 'list', '--url', url, '--token', 'nope', '--since', '2026-12-03T00:00:00Z'], { cwd: cwd.dir });
      expect(r.status).toBe(1);
      expect(expectOneLine(r)).toBe(`vigil dlq: GET ${url}/v1/dlq answered HTTP 401 unauthorized: a valid tenant token is required`);
      answer = { status: 502, body: '<html>\n<body>Bad gateway</body>\n</html>' };
      const p = await vigilAsync(['dlq', 'replay', '--url', url, '--token', 't', '--code', 'x', '--since', '0'], { cwd: cwd.dir });
      expect(p.status).toBe(1);
      expect(expectOneLine(p)).toBe(`vigil dlq: POST ${url}/v1/dlq:replay answered HTTP 502 <html> <body>Bad gateway</body> </html>`);
    });
  });
});
