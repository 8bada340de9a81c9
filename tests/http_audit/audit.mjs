// Runs graphql-http's GraphQL-over-HTTP server audits against a live server and prints one JSON
// document: [{id, name, status, reason}], status being "ok", "warn" or "error".
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// tests/test_http_audit.py starts the gateway and judges the results; this script only reports.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}

const results = [];
// One at a time: the gateway under test may run on a single worker of a 2-core machine, and the
// order of the printed results should not depend on timing.
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason ?? null });
}
process.stdout.write(JSON.stringify(results) + '\n');
