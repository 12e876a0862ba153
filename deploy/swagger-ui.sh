#!/usr/bin/env bash
# Vendors the Swagger UI files of the API docs page (`make swagger-ui`): the package and version
# pinned in internal/httpapi/swaggerui/PIN, through deploy/vendor-npm.sh (which checks the pinned
# integrity). The files the page loads, and the licences that go with them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$ROOT/deploy/vendor-npm.sh" "$ROOT/internal/httpapi/swaggerui" \
  swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt
