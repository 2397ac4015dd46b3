// docker-compose.yml as a model: the YAML-subset parse plus the few compose semantics the
// deployment tests need (environment with interpolation, ports, expose, mounts, commands).
import path from 'node:path';
import { interpolate, readRepo } from './support.js';
import { asList, asMap, asString, asStrings, isMap, parseYamlSubset, type YamlMap } from './yaml-subset.js';

export const COMPOSE = 'docker-compose.yml';
export type Read = (rel: string) => string;

export function loadCompose(text = readRepo(COMPOSE)): YamlMap {
  return asMap(parseYamlSubset(text, COMPOSE), COMPOSE);
}

export function services(c: YamlMap): YamlMap {
  return asMap(c['services'], 'services');
}

export function service(c: YamlMap, name: string): YamlMap {
  return asMap(services(c)[name], `services.${name}`);
}

export function hasService(c: YamlMap, name: string): boolean {
  return isMap(c['services']) && isMap(c['services'][name]);
}

/**
 * The Vigil nodes: services built from the repository's Dockerfile, or running the image one of
 * them builds (`vigil` first, then by name).
 */
export function nodeServices(c: YamlMap): string[] {
  const all = services(c);
  const built = (name: string): boolean => {
    const b = service(c, name)['build'];
    if (typeof b === 'string') return b === '.';
    return isMap(b) && (b['context'] ?? '.') === '.' && (b['dockerfile'] ?? 'Dockerfile') === 'Dockerfile';
  };
  const images = new Set(Object.keys(all).filter(built).map((n) => service(c, n)['image']).filter((i) => typeof i === 'string'));
  return Object.keys(all)
    .filter((n) => isMap(all[n]) && (built(n) || images.has(service(c, n)['image'] as string)))
    .sort((a, b) => (a === 'vigil' ? -1 : b === 'vigil' ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

/** A service's environment after interpolation with an empty shell environment. */
export function environment(c: YamlMap, name: string): { env: Record<string, string>; problems: string[] } {
  const raw = service(c, name)['environment'];
  const env: Record<string, string> = {};
  const problems: string[] = [];
  if (raw === undefined) return { env, problems };
  if (!isMap(raw)) return { env, problems: [`services.${name}.environment: use the map form (NAME: value) so it can be checked`] };
  for (const [k, v] of Object.entries(raw)) {
    if (v === null || typeof v === 'object') {
      problems.push(`services.${name}.environment.${k}: expected a scalar, found ${JSON.stringify(v)}`);
      continue;
    }
    const r = interpolate(String(v), {});
    for (const req of r.required) problems.push(`services.${name}.environment.${k}: \${${req}} has no default, so \`docker compose up\` needs it set`);
    env[k] = r.value;
  }
  return { env, problems };
}

export interface PortMapping {
  hostIp: string | null;
  host: number | null;
  container: number;
}

export function portMappings(c: YamlMap, name: string): PortMapping[] {
  const raw = service(c, name)['ports'];
  if (raw === undefined) return [];
  return asList(raw, `services.${name}.ports`).map((p, i) => {
    const s = asString(p, `services.${name}.ports[${i}] (quote it)`).replace(/\/(tcp|udp)$/, '');
    const parts = s.split(':');
    const container = Number(parts.at(-1));
    if (parts.length === 3) return { hostIp: parts[0]!, host: Number(parts[1]), container };
    if (parts.length === 2) return { hostIp: null, host: Number(parts[0]), container };
    return { hostIp: null, host: null, container };
  });
}

/** Ports a service's container listens on, as declared: `expose` plus the container side of `ports`. */
export function servedPorts(c: YamlMap, name: string): Set<number> {
  const out = new Set<number>(portMappings(c, name).map((m) => m.container));
  const expose = service(c, name)['expose'];
  if (expose !== undefined) for (const [i, e] of asList(expose, `services.${name}.expose`).entries()) out.add(Number(asString(e, `services.${name}.expose[${i}] (quote it)`)));
  return out;
}

export interface Mount {
  source: string;
  target: string;
  bind: boolean;
  readOnly: boolean;
}

export function mounts(c: YamlMap, name: string): Mount[] {
  const raw = service(c, name)['volumes'];
  if (raw === undefined) return [];
  return asStrings(raw, `services.${name}.volumes`).map((v) => {
    const [source, target, mode] = v.split(':');
    return { source: source!, target: target!, bind: source!.startsWith('.') || source!.startsWith('/'), readOnly: mode === 'ro' };
  });
}

/** The repository path behind a container path, through the service's bind mounts. */
export function hostPathOf(c: YamlMap, name: string, containerPath: string): string | null {
  let best: Mount | null = null;
  for (const m of mounts(c, name)) {
    if (!m.bind) continue;
    if (containerPath === m.target || containerPath.startsWith(`${m.target}/`)) {
      if (!best || m.target.length > best.target.length) best = m;
    }
  }
  if (!best) return null;
  return path.posix.normalize(path.posix.join(best.source, containerPath.slice(best.target.length)));
}

export function command(c: YamlMap, name: string): string[] {
  const raw = service(c, name)['command'];
  if (raw === undefined) return [];
  return asStrings(raw, `services.${name}.command (use the [exec, form])`);
}

export function healthcheckText(c: YamlMap, name: string): string | null {
  const hc = service(c, name)['healthcheck'];
  if (!isMap(hc)) return null;
  const t = hc['test'];
  return Array.isArray(t) ? t.map(String).join(' ') : typeof t === 'string' ? t : null;
}

/** The healthcheck's exec form (`["CMD", ...]` without the CMD marker). */
export function healthcheckCommand(c: YamlMap, name: string): string[] | null {
  const hc = service(c, name)['healthcheck'];
  if (!isMap(hc) || !Array.isArray(hc['test'])) return null;
  const t = asStrings(hc['test'], `services.${name}.healthcheck.test`);
  return t[0] === 'CMD' ? t.slice(1) : null;
}
