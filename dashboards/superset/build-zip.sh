#!/usr/bin/env bash
# Zips the Superset bundle in this folder for
#   superset import-dashboards -p vigil-superset-bundle.zip -u admin
# (or Dashboards -> Import in the UI). Superset expects every file under one top folder.
#
# Usage: dashboards/superset/build-zip.sh [OUT.zip]      default ./vigil-superset-bundle.zip
# Env:   SUPERSET_CLICKHOUSE_URI  replaces the connection in the zip (the files stay as they are),
#        e.g. clickhousedb://analyst:secret@ch.internal:8123/vigil_ward_a; the datasets' schema
#        follows the database named in its path. Without it the zip reads vigil_default, the
#        database of a node on the default cluster (a node writes vigil_<VIGIL_CLUSTER>).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-vigil-superset-bundle.zip}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
root=vigil_superset_bundle

# Refuse to ship files that no longer match generate.mjs.
node "$here/generate.mjs" --check

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$root"
cp "$here/metadata.yaml" "$stage/$root/"
for d in databases datasets charts dashboards; do
  cp -R "$here/$d" "$stage/$root/"
done

if [ -n "${SUPERSET_CLICKHOUSE_URI:-}" ]; then
  node --input-type=module - "$stage/$root" "$SUPERSET_CLICKHOUSE_URI" <<'JS'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
const [dir, uri] = process.argv.slice(2);
const database = decodeURIComponent(new URL(uri).pathname.replace(/^\//, '')) || 'default';
const edit = (path, f) => {
  const o = JSON.parse(readFileSync(path, 'utf8'));
  f(o);
  writeFileSync(path, `${JSON.stringify(o, null, 2)}\n`);
};
for (const f of readdirSync(join(dir, 'databases'))) edit(join(dir, 'databases', f), (o) => { o.sqlalchemy_uri = uri; });
for (const sub of readdirSync(join(dir, 'datasets'))) {
  for (const f of readdirSync(join(dir, 'datasets', sub))) edit(join(dir, 'datasets', sub, f), (o) => { o.schema = database; });
}
JS
fi

rm -f "$out"
if command -v zip >/dev/null 2>&1; then
  (cd "$stage" && zip -q -r -X -D "$out" "$root")
else
  python3 - "$stage" "$root" "$out" <<'PY'
import os, sys, zipfile
stage, root, out = sys.argv[1:]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for d, _, files in os.walk(os.path.join(stage, root)):
        for f in sorted(files):
            p = os.path.join(d, f)
            z.write(p, os.path.relpath(p, stage))
PY
fi
echo "wrote $out"
