// Dockerfile, deploy/superset/Dockerfile and .dockerignore, checked without building (no Docker
// engine on the build machines): base images, what each stage copies, what the runtime image
// contains for the node to read, its environment against the configuration schema, and that
// the build context keeps what the COPY lines need and drops host builds. As in the compose
// test, every check returns problems and is proven able to fail on a broken copy.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkNodeEnv, copyOf, DockerIgnore, envOf, execForm, exists, filesUnder, parseDockerfile, readRepo, shellWords, type Dockerfile } from './support.js';

interface Files {
  dockerfile: string;
  superset: string;
  ignore: string;
}

function committed(): Files {
  return { dockerfile: readRepo('Dockerfile'), superset: readRepo('deploy/superset/Dockerfile'), ignore: readRepo('.dockerignore') };
}

/** Images must be Debian (glibc): the uWS binding and libchdb do not load on musl (Alpine). */
function baseImageProblems(df: Dockerfile, file: string): string[] {
  const p: string[] = [];
  const names = new Set<string>();
  for (const st of df.stages) {
    if (names.has(st.from)) continue; // an earlier stage
    if (/^node:/.test(st.from)) {
      if (!/^node:20(?:\.\d+)*-(?:bookworm|bullseye)(?:-slim)?$/.test(st.from)) p.push(`${file}: stage ${st.name ?? st.index} uses ${st.from}; use a Debian-based Node 20 image (e.g. node:20-bookworm-slim)`);
    } else if (!/^apache\/superset:/.test(st.from)) {
      p.push(`${file}: stage ${st.name ?? st.index} uses an unexpected image ${st.from}`);
    }
    if (st.name) names.add(st.name);
  }
  return p;
}

const TSCONFIG_BUILD = JSON.parse(readRepo('tsconfig.build.json')) as { include: string[] };

function buildStageProblems(df: Dockerfile): string[] {
  const p: string[] = [];
  const build = df.stages.find((st) => st.instructions.some((i) => i.cmd === 'RUN' && /npm run build\b/.test(i.args)));
  if (!build) return ['Dockerfile: no stage runs `npm run build`'];
  const copied = new Set(build.instructions.filter((i) => i.cmd === 'COPY').map(copyOf).filter((c) => c.from === null).flatMap((c) => c.sources));
  for (const need of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', ...TSCONFIG_BUILD.include]) {
    if (!copied.has(need)) p.push(`Dockerfile: the build stage does not copy ${need} (tsconfig.build.json compiles it / npm needs it)`);
  }
  if (!build.instructions.some((i) => i.cmd === 'RUN' && /\bnpm ci\b/.test(i.args))) p.push('Dockerfile: the build stage does not install with `npm ci` (the lockfile)');
  return p;
}

/**
 * The runtime image as a set of paths: what the final stage copies (from the context or from
 * earlier stages), so that the files the built node opens at run time can be looked up.
 */
function runtimeImageProblems(df: Dockerfile, ignore: DockerIgnore): string[] {
  const p: string[] = [];
  const final = df.stages.at(-1)!;
  const workdir = final.instructions.findLast((i) => i.cmd === 'WORKDIR')?.args ?? '/';
  const inImage: { dest: string; from: string | null; source: string }[] = [];
  for (const c of final.instructions.filter((i) => i.cmd === 'COPY').map(copyOf)) {
    for (const s of c.sources) {
      const dest = path.posix.resolve(workdir, c.dest.endsWith('/') || c.sources.length > 1 ? path.posix.join(c.dest, path.posix.basename(s)) : c.dest);
      inImage.push({ dest, from: c.from, source: s });
    }
  }
  const lookup = (abs: string) => inImage.find((e) => abs === e.dest || abs.startsWith(`${e.dest}/`));
  // From the build context: the file must exist in the repository and not be .dockerignored.
  const needFromContext = [
    'package.json', // "type": "module": dist/ is ESM
    'bin/vigil.js',
    'dashboards/clickhouse/views.sql', // adapters/clickhouse/schema.ts defaultViewsFile(), from dist/adapters/clickhouse
    'dashboards/ops/index.html', // adapters/compose/ops.ts findOpsPage()
    ...filesUnder('load/scenarios'), // vigil load --scenario NAME
  ];
  for (const rel of needFromContext) {
    const e = lookup(path.posix.join(workdir, rel));
    if (!e) p.push(`Dockerfile: the runtime image has no ${path.posix.join(workdir, rel)} (copy ${rel})`);
    else if (e.from !== null) p.push(`Dockerfile: ${rel} comes from stage ${e.from}, expected the build context`);
    else if (ignore.ignores(rel)) p.push(`.dockerignore excludes ${rel}, which the runtime image needs`);
    else if (!exists(rel)) p.push(`${rel} does not exist in the repository`);
  }
  // From earlier stages: the compiled code and the production node_modules.
  const dist = lookup(path.posix.join(workdir, 'dist/adapters/compose/cli.js'));
  const build = df.stages.find((st) => st.name === dist?.from);
  if (!dist || !build || !build.instructions.some((i) => i.cmd === 'RUN' && /npm run build\b/.test(i.args))) p.push('Dockerfile: dist/ (bin/vigil.js imports dist/adapters/compose/cli.js) is not copied from the stage that runs `npm run build`');
  const nm = lookup(path.posix.join(workdir, 'node_modules/uWebSockets.js'));
  const deps = df.stages.find((st) => st.name === nm?.from);
  const depsRun = deps?.instructions.filter((i) => i.cmd === 'RUN').map((i) => i.args).join('\n') ?? '';
  if (!nm || !deps) p.push('Dockerfile: node_modules is not copied from an earlier stage');
  else if (!/\bnpm ci\b[^\n]*--omit=dev/.test(depsRun) || /--ignore-scripts/.test(depsRun)) p.push(`Dockerfile: node_modules comes from stage ${deps.name}, which must run \`npm ci --omit=dev\` with install scripts (native modules)`);
  return p;
}

function runtimeConfigProblems(df: Dockerfile): string[] {
  const p: string[] = [];
  const final = df.stages.at(-1)!;
  const env = Object.assign({}, ...final.instructions.filter((i) => i.cmd === 'ENV').map(envOf)) as Record<string, string>;
  const { problems, config } = checkNodeEnv(env, 'Dockerfile ENV');
  // The image alone runs in embedded mode; URLs come from compose / Kubernetes.
  p.push(...problems.filter((x) => !/durable mode|VIGIL_CLICKHOUSE_URL is not set/.test(x)));
  if (!config) return p;
  const exposed = final.instructions.filter((i) => i.cmd === 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((x) => Number(x.replace(/\/tcp$/, '')));
  if (!exposed.includes(config.port)) p.push(`Dockerfile: EXPOSE ${exposed.join(' ')} does not include VIGIL_PORT=${config.port}`);
  if (exposed.some((x) => x !== config.port)) p.push(`Dockerfile: EXPOSE ${exposed.join(' ')} has ports the node does not serve`);
  const volumes = final.instructions.filter((i) => i.cmd === 'VOLUME').flatMap((i) => (i.args.startsWith('[') ? (JSON.parse(i.args) as string[]) : i.args.split(/\s+/)));
  if (!volumes.includes(config.dataDir)) p.push(`Dockerfile: VIGIL_DATA_DIR=${config.dataDir} is not a VOLUME`);
  const user = final.instructions.findLast((i) => i.cmd === 'USER')?.args;
  if (!user || user === 'root' || user === '0') p.push('Dockerfile: the node runs as root; add USER node');
  const hc = final.instructions.findLast((i) => i.cmd === 'HEALTHCHECK')?.args ?? '';
  if (!/\/healthz\b/.test(hc)) p.push('Dockerfile: HEALTHCHECK does not GET /healthz (liveness)');
  if (!/process\.env\.VIGIL_PORT|:\$\{?VIGIL_PORT/.test(hc) && !hc.includes(`:${config.port}/`)) p.push('Dockerfile: HEALTHCHECK does not probe VIGIL_PORT');
  const entry = execForm(final.instructions.findLast((i) => i.cmd === 'ENTRYPOINT')) ?? [];
  const cmd = execForm(final.instructions.findLast((i) => i.cmd === 'CMD')) ?? [];
  if ([...entry, ...cmd].join(' ') !== 'node bin/vigil.js start') p.push(`Dockerfile: runs ${JSON.stringify([...entry, ...cmd])}, expected node bin/vigil.js start (exec form, so SIGTERM reaches the node)`);
  return p;
}

/** COPY sources from the context are kept by .dockerignore; host builds are not sent. */
function contextProblems(files: { file: string; df: Dockerfile }[], ignore: DockerIgnore): string[] {
  const p: string[] = [];
  for (const { file, df } of files) {
    for (const st of df.stages) {
      for (const c of st.instructions.filter((i) => i.cmd === 'COPY').map(copyOf)) {
        if (c.from !== null) continue;
        for (const s of c.sources) {
          if (!exists(s)) {
            p.push(`${file}:${c.line}: COPY ${s}: not in the repository`);
            continue;
          }
          if (ignore.ignores(s)) p.push(`${file}:${c.line}: COPY ${s}: excluded by .dockerignore`);
          const kept = filesUnder(s).filter((f) => !ignore.ignores(f));
          if (kept.length === 0) p.push(`${file}:${c.line}: COPY ${s}: every file under it is excluded by .dockerignore`);
        }
      }
    }
  }
  for (const dir of TSCONFIG_BUILD.include) {
    for (const f of filesUnder(dir).filter((x) => x.endsWith('.ts'))) {
      if (ignore.ignores(f)) {
        p.push(`.dockerignore excludes ${f}, which tsconfig.build.json compiles`);
        break;
      }
    }
  }
  for (const host of ['node_modules/piscina/package.json', 'dist/adapters/compose/cli.js', '.git/HEAD', '.vigil/x', 'coverage/x']) {
    if (!ignore.ignores(host)) p.push(`.dockerignore does not exclude ${host.split('/')[0]} (host builds and native modules must not enter the image)`);
  }
  return p;
}

function supersetImageProblems(df: Dockerfile): string[] {
  const p: string[] = [];
  const final = df.stages.at(-1)!;
  if (!/^apache\/superset:\d+\.\d+\.\d+$/.test(final.from)) p.push(`deploy/superset/Dockerfile: the final stage should extend a pinned apache/superset image, not ${final.from}`);
  const users = final.instructions.filter((i) => i.cmd === 'USER').map((i) => i.args);
  if (users.at(-1) !== 'superset') p.push('deploy/superset/Dockerfile: the image must switch back to USER superset');
  const zip = df.stages.find((st) => st.instructions.some((i) => i.cmd === 'RUN' && i.args.includes('build-zip.sh')));
  const zipRun = zip?.instructions.find((i) => i.cmd === 'RUN' && i.args.includes('build-zip.sh'));
  if (!zip || !zipRun) return [...p, 'deploy/superset/Dockerfile: no stage runs build-zip.sh'];
  const zipInstalls = zip.instructions.filter((i) => i.cmd === 'RUN').map((i) => shellWords(i.args)).flat();
  if (!zipInstalls.includes('zip') && !zipInstalls.includes('python3')) p.push('deploy/superset/Dockerfile: build-zip.sh needs zip or python3 in its stage');
  if (!zip.instructions.some((i) => i.cmd === 'COPY' && copyOf(i).sources.includes('dashboards/superset'))) p.push('deploy/superset/Dockerfile: the bundle stage does not copy dashboards/superset');
  return p;
}

function parsed(f: Files) {
  return { df: parseDockerfile(f.dockerfile), superset: parseDockerfile(f.superset), ignore: new DockerIgnore(f.ignore) };
}

const CHECKS = {
  baseImages: (f: Files) => {
    const x = parsed(f);
    return [...baseImageProblems(x.df, 'Dockerfile'), ...baseImageProblems(x.superset, 'deploy/superset/Dockerfile')];
  },
  buildStage: (f: Files) => buildStageProblems(parsed(f).df),
  runtimeImage: (f: Files) => {
    const x = parsed(f);
    return runtimeImageProblems(x.df, x.ignore);
  },
  runtimeConfig: (f: Files) => runtimeConfigProblems(parsed(f).df),
  context: (f: Files) => {
    const x = parsed(f);
    return contextProblems([{ file: 'Dockerfile', df: x.df }, { file: 'deploy/superset/Dockerfile', df: x.superset }], x.ignore);
  },
  supersetImage: (f: Files) => supersetImageProblems(parsed(f).superset),
} satisfies Record<string, (f: Files) => string[]>;

type CheckName = keyof typeof CHECKS;

describe('Dockerfiles and .dockerignore', () => {
  it.each(Object.keys(CHECKS) as CheckName[])('check %s finds no problem', (name) => {
    expect(CHECKS[name](committed())).toEqual([]);
  });

  it('reads multi-line ENV and JSON CMD', () => {
    const final = parseDockerfile(readRepo('Dockerfile')).stages.at(-1)!;
    const env = Object.assign({}, ...final.instructions.filter((i) => i.cmd === 'ENV').map(envOf)) as Record<string, string>;
    expect(env).toMatchObject({ VIGIL_HOST: '0.0.0.0', VIGIL_PORT: '8080', VIGIL_DATA_DIR: '/data' });
  });
});

type Edit = Partial<Record<keyof Files, (text: string) => string>>;
type Mutation = [label: string, check: CheckName, expected: RegExp, edit: Edit];

const MUTATIONS: Mutation[] = [
  ['an Alpine base', 'baseImages', /Debian-based Node 20/, { dockerfile: (t) => t.replace('ARG NODE_IMAGE=node:20-bookworm-slim', 'ARG NODE_IMAGE=node:20-alpine') }],
  ['Node 18', 'baseImages', /node:18-bookworm-slim/, { superset: (t) => t.replace('ARG NODE_IMAGE=node:20-bookworm-slim', 'ARG NODE_IMAGE=node:18-bookworm-slim') }],
  ['load/ not compiled', 'buildStage', /does not copy load/, { dockerfile: (t) => t.replace('COPY load load\n', '') }],
  ['the fixture actor not compiled', 'buildStage', /does not copy test\/fixtures/, { dockerfile: (t) => t.replace('COPY test/fixtures test/fixtures\n', '') }],
  ['no ops page in the image', 'runtimeImage', /no \/app\/dashboards\/ops\/index\.html/, { dockerfile: (t) => t.replace('COPY dashboards/ops dashboards/ops\n', '') }],
  ['views.sql excluded from the context', 'runtimeImage', /\.dockerignore excludes dashboards\/clickhouse\/views\.sql/, { ignore: (t) => `${t}**/*.sql\n` }],
  ['dev node_modules shipped', 'runtimeImage', /npm ci --omit=dev/, { dockerfile: (t) => t.replace('npm ci --omit=dev', 'npm ci') }],
  ['dist from the wrong stage', 'runtimeImage', /dist\/ .* is not copied from the stage that runs `npm run build`/, { dockerfile: (t) => t.replace('COPY --from=build /app/dist dist', 'COPY --from=deps /app/dist dist') }],
  ['an unknown VIGIL_ name', 'runtimeConfig', /VIGIL_LISTEN is not a setting/, { dockerfile: (t) => t.replace('VIGIL_HOST=0.0.0.0', 'VIGIL_LISTEN=0.0.0.0') }],
  ['loopback in the image', 'runtimeConfig', /must listen on 0\.0\.0\.0/, { dockerfile: (t) => t.replace('VIGIL_HOST=0.0.0.0', 'VIGIL_HOST=127.0.0.1') }],
  ['EXPOSE elsewhere', 'runtimeConfig', /EXPOSE 8081 does not include VIGIL_PORT=8080/, { dockerfile: (t) => t.replace('EXPOSE 8080', 'EXPOSE 8081') }],
  ['data dir not a volume', 'runtimeConfig', /VIGIL_DATA_DIR=\/data is not a VOLUME/, { dockerfile: (t) => t.replace('VOLUME ["/data"]', 'VOLUME ["/var/lib/vigil"]') }],
  ['running as root', 'runtimeConfig', /runs as root/, { dockerfile: (t) => t.replace('USER node\n', '') }],
  ['healthcheck on /readyz', 'runtimeConfig', /HEALTHCHECK does not GET \/healthz/, { dockerfile: (t) => t.replace("'/healthz'", "'/readyz'") }],
  ['shell-form command', 'runtimeConfig', /exec form/, { dockerfile: (t) => t.replace('CMD ["start"]', 'CMD start') }],
  ['a COPY source ignored', 'context', /COPY dashboards\/superset: excluded by \.dockerignore/, { ignore: (t) => `${t}dashboards/superset\n` }],
  ['fixtures no longer re-included', 'context', /COPY test\/fixtures: excluded/, { ignore: (t) => t.replace('!test/fixtures\n', '') }],
  ['node_modules sent to the daemon', 'context', /does not exclude node_modules/, { ignore: (t) => t.replace('\nnode_modules\n', '\n') }],
  ['a COPY of a missing file', 'context', /COPY tsconfig\.prod\.json: not in the repository/, { dockerfile: (t) => t.replace('COPY tsconfig.json tsconfig.build.json ./', 'COPY tsconfig.json tsconfig.prod.json ./') }],
  ['Superset left as root', 'supersetImage', /USER superset/, { superset: (t) => t.replace(/USER superset\n/, '') }],
  ['Superset unpinned', 'supersetImage', /pinned apache\/superset/, { superset: (t) => t.replace('apache/superset:4.1.2', 'apache/superset:latest') }],
  ['no zip tool for build-zip.sh', 'supersetImage', /needs zip or python3/, { superset: (t) => t.replace('--no-install-recommends zip', '--no-install-recommends unzip') }],
];

describe('Dockerfile checks fail on a broken copy', () => {
  it.each(MUTATIONS)('%s -> %s', (_label, check, expected, edit) => {
    const f = committed();
    for (const [k, fn] of Object.entries(edit) as [keyof Files, (t: string) => string][]) {
      const after = fn(f[k]);
      expect(after, `the edit of ${k} changed nothing`).not.toBe(f[k]);
      f[k] = after;
    }
    expect(CHECKS[check](f).join('\n')).toMatch(expected);
  });
});
