// Fan-out benchmark (issue 16): N graphql-ws clients (one WebSocket each, one Node process)
// subscribe to personLevelChanged for one establishment; then one learner's level rises once
// per round, and every subscriber should receive that one change. Latency is from just before
// the mutation is sent to each subscriber's receipt (so it includes the write, about a
// millisecond). A first round, not counted, confirms every subscription is live. Prints one
// JSON line: subscribers, rounds, delivered/expected, p50/p99/max in ms, and per round the time
// until the last subscriber had it. With FANOUT_NOISE=<writes per second>, learners of another
// establishment level up that often meanwhile (what a national instance sees: writes elsewhere
// that these subscribers must not pay for). Usage:
//   node fanout.mjs <http graphql url> <bearer token> <subscribers> [rounds, default 5]
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, subscribersArg, roundsArg] = process.argv.slice(2);
if (!url || !token || !subscribersArg) {
  console.error('usage: node fanout.mjs <graphql url> <bearer token> <subscribers> [rounds]');
  process.exit(2);
}
const subscribers = Number(subscribersArg);
const rounds = Math.min(Number(roundsArg ?? 5), 6); // 9 pix a round: levels 1..7
const uai = '0750655E';
const noiseUai = '0690026D';
const noisePerSecond = Number(process.env.FANOUT_NOISE ?? 0);

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
  { input: { establishment: uai, role: 'LEARNER', externalRef: { source: 'fanout', id: `f-${Date.now()}` } } },
);

let round = -1; // the warm-up round
let sentAt = 0;
const latencies = [];
const lastPerRound = [];
let receivedThisRound = 0;
let roundDone = () => {};
let errors = 0;

const clients = [];
for (let i = 0; i < subscribers; i += 1) {
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
  });
  clients.push(client);
  client.subscribe(
    {
      query: `subscription($uai: String!, $after: Position) {
        personLevelChanged(establishment: $uai, after: $after) { personId competence from to position }
      }`,
      variables: { uai, after: registerPerson.position },
    },
    {
      next: (value) => {
        if (value.errors) {
          errors += 1;
          return;
        }
        const elapsed = performance.now() - sentAt;
        if (round >= 0) latencies.push(elapsed);
        receivedThisRound += 1;
        if (receivedThisRound === subscribers) {
          if (round >= 0) lastPerRound.push(elapsed);
          roundDone();
        }
      },
      error: () => { errors += 1; },
      complete: () => {},
    },
  );
}

async function levelUp(r) {
  receivedThisRound = 0;
  const everyone = new Promise((resolve) => { roundDone = resolve; });
  sentAt = performance.now();
  await graphql(
    'mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }',
    {
      input: {
        person: registerPerson.personId,
        source: { kind: 'CAMPAIGN', campaignCode: 'FANOUT1' },
        elements: [
          { competence: '1.1', skill: `@fan${r}a`, status: 'VALIDATED', earnedPix: 4.5 },
          { competence: '1.1', skill: `@fan${r}b`, status: 'VALIDATED', earnedPix: 4.5 },
        ],
      },
    },
  );
  const timeout = new Promise((resolve) => { setTimeout(() => resolve('timeout'), 30_000); });
  return Promise.race([everyone, timeout]);
}

// Give the connections time to open and subscribe, then a warm-up round that every subscriber
// must receive before anything is measured.
await new Promise((resolve) => { setTimeout(resolve, Math.max(1000, subscribers * 2)); });
const warm = await levelUp(0);
if (warm === 'timeout') {
  console.error(`warm-up: only ${receivedThisRound} of ${subscribers} subscribers received the change`);
}
// Noise: level changes at another establishment, spread over every second of the rounds.
let noiseSent = 0;
let noiseTimer = null;
if (noisePerSecond > 0) {
  const noisy = [];
  for (let i = 0; i < 50; i += 1) {
    const { registerPerson: p } = await graphql(
      'mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { personId } }',
      { input: { establishment: noiseUai, role: 'LEARNER', externalRef: { source: 'noise', id: `n-${Date.now()}-${i}` } } },
    );
    noisy.push(p.personId);
  }
  const tick = 20; // ms
  const perTick = Math.max(1, Math.round((noisePerSecond * tick) / 1000));
  noiseTimer = setInterval(() => {
    for (let k = 0; k < perTick; k += 1) {
      noiseSent += 1;
      graphql(
        'mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }',
        {
          input: {
            person: noisy[noiseSent % noisy.length],
            source: { kind: 'CAMPAIGN', campaignCode: 'NOISE1' },
            elements: [{ competence: `${1 + (noiseSent % 5)}.1`, skill: `@noise${noiseSent}`, status: 'VALIDATED', earnedPix: 1 }],
          },
        },
      ).catch(() => { errors += 1; });
    }
  }, tick);
  await new Promise((resolve) => { setTimeout(resolve, 1000); });
}
const noiseStarted = performance.now();
for (round = 0; round < rounds; round += 1) {
  const outcome = await levelUp(round + 1);
  if (outcome === 'timeout') lastPerRound.push(null);
  await new Promise((resolve) => { setTimeout(resolve, 200); });
}

if (noiseTimer) clearInterval(noiseTimer);
const noiseRate = noisePerSecond > 0 ? Math.round(noiseSent / ((performance.now() - noiseStarted) / 1000 + 1)) : 0;
latencies.sort((a, b) => a - b);
const at = (p) => latencies[Math.min(latencies.length - 1, Math.floor((latencies.length * p) / 100))];
console.log(JSON.stringify({
  subscribers,
  rounds,
  delivered: latencies.length,
  expected: subscribers * rounds,
  errors,
  p50: Number(at(50)?.toFixed(1)),
  p99: Number(at(99)?.toFixed(1)),
  max: Number(latencies[latencies.length - 1]?.toFixed(1)),
  lastPerRound: lastPerRound.map((t) => (t === null ? null : Number(t.toFixed(1)))),
  noisePerSecond: noiseRate,
}));
await Promise.all(clients.map((c) => c.dispose()));
process.exit(0);
