# Superset configuration for the Vigil compose stack (SUPERSET_CONFIG_PATH points here; see
# deploy/superset/Dockerfile). Anything not set here keeps Superset's default.
import os

# Signs sessions and encrypts stored database passwords. Superset refuses to start with its
# built-in default, so docker-compose.yml passes one (override it outside a laptop).
SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]

# Superset's own metadata (users, dashboards, charts) in SQLite on the superset-home volume:
# fine for one container; point it at PostgreSQL for anything shared.
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "SUPERSET_METADATA_DB_URI", "sqlite:////app/superset_home/superset.db"
)

# Native dashboard filters (the bundle's Tenant filter).
FEATURE_FLAGS = {"DASHBOARD_NATIVE_FILTERS": True}
