#!/bin/sh
# Prepares Superset, then runs its arguments (the web server):
#   command: ["/app/vigil/init.sh", "/usr/bin/run-server.sh"]      (docker-compose.yml)
# Every step is idempotent, so it runs on each start: the metadata schema is upgraded, the
# admin is created once (create-admin leaves an existing user alone, so a changed
# SUPERSET_ADMIN_PASSWORD needs `superset fab reset-password`), roles and permissions are
# synced, and the Vigil bundle is imported again (overwriting the previous import).
# The charts need the node's views: they exist once the node has started against ClickHouse.
set -eu

: "${SUPERSET_ADMIN_USERNAME:=admin}"
: "${SUPERSET_ADMIN_PASSWORD:?set SUPERSET_ADMIN_PASSWORD}"
: "${SUPERSET_ADMIN_EMAIL:=admin@example.invalid}"
bundle="${VIGIL_SUPERSET_BUNDLE:-/app/vigil/bundle.zip}"

echo "vigil-superset: superset db upgrade"
superset db upgrade

echo "vigil-superset: admin user ${SUPERSET_ADMIN_USERNAME}"
superset fab create-admin \
  --username "${SUPERSET_ADMIN_USERNAME}" \
  --firstname Vigil \
  --lastname Admin \
  --email "${SUPERSET_ADMIN_EMAIL}" \
  --password "${SUPERSET_ADMIN_PASSWORD}"

echo "vigil-superset: superset init"
superset init

echo "vigil-superset: importing ${bundle}"
superset import-dashboards -p "${bundle}" -u "${SUPERSET_ADMIN_USERNAME}"

if [ "$#" -gt 0 ]; then
  exec "$@"
fi
