// A subscription through the graphql-ws client (the npm package most browser and Node
// dashboards use, protocol graphql-transport-ws) against a running palier: registers a learner,
// subscribes to personLevelChanged for its establishment, records results that raise a level,
// and prints the change it receives as one JSON line. Usage:
//   node subscribe.mjs <http graphql url> <bearer token>
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node subscribe.mjs <graphql url> <bearer token>');
  process.exit(2);
}
const uai = '0750655E';

async function graphql(query, variables) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const { registerPerson } = await graphql(
  'mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { personId position } }',
  { input: { establishment: uai, role: 'LEARNER', externalRef: { source: 'graphql-ws-e2e', id: 'u-1' } } },
);

const client = createClient({
  url: url.replace(/^http/, 'ws'),
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
});

const timer = setTimeout(() => {
  console.error('no level change within 10 s');
  process.exit(1);
}, 10_000);

const received = new Promise((resolve, reject) => {
  const subscribed = client.subscribe(
    {
      query: `subscription($uai: String!, $after: Position) {
        personLevelChanged(establishment: $uai, after: $after) { personId competence from to position }
      }`,
      variables: { uai, after: registerPerson.position },
    },
    { next: (value) => { resolve(value); subscribed(); }, error: reject, complete: () => {} },
  );
});

// 2 × 4.5 pix on competence 1.1: level 1.
await graphql(
  'mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }',
  {
    input: {
      person: registerPerson.personId,
      source: { kind: 'CAMPAIGN', campaignCode: 'SCOWS1' },
      elements: [
        { competence: '1.1', skill: '@ws1', status: 'VALIDATED', earnedPix: 4.5 },
        { competence: '1.1', skill: '@ws2', status: 'VALIDATED', earnedPix: 4.5 },
      ],
    },
  },
);

try {
  const value = await received;
  if (value.errors) throw new Error(JSON.stringify(value.errors));
  console.log(JSON.stringify({ personId: registerPerson.personId, change: value.data.personLevelChanged }));
} finally {
  clearTimeout(timer);
  await client.dispose();
}
