// graphql-http's own server audit (GraphQL over HTTP, every MUST, SHOULD and MAY) against a
// running palier. Usage: node audit.mjs <graphql url> <bearer token>
// Prints one line per audit and exits 1 when a MUST or SHOULD audit does not pass (MAY audits
// are reported, not required). Every request carries the token: Palier answers nothing
// anonymously, and the audit is about the protocol, not about authentication.
import { auditServer } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node audit.mjs <graphql url> <bearer token>');
  process.exit(2);
}

const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
const failed = [];
for (const result of results) {
  const level = result.name.split(' ')[0];
  const line = result.status === 'ok' ? `ok     ${result.name}` : `${result.status.padEnd(6)} ${result.name}: ${result.reason}`;
  console.log(line);
  if (result.status !== 'ok' && level !== 'MAY') failed.push(result);
}
const count = (level) => results.filter((r) => r.name.startsWith(level)).length;
console.log(`audits: ${results.length} (MUST ${count('MUST')}, SHOULD ${count('SHOULD')}, MAY ${count('MAY')}); MUST/SHOULD not passed: ${failed.length}`);
process.exit(failed.length === 0 ? 0 : 1);
