// The only way this page talks to Palier: the public GraphQL API, as any partner's dashboard
// would. Queries and mutations are POSTed to /graphql with the key as a bearer token;
// subscriptions go over WebSocket on the same path with the `graphql-ws` client
// (graphql-transport-ws), the key in `connection_init`.
import { createClient, type Client } from 'graphql-ws/client';

const KEY = 'palier.key';
const ENDPOINT = '/graphql';

export class GraphQLError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** The key of this tab's session, if signed in. */
export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, key);
}

interface Response<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Runs a query; rejects with the first error (its `extensions.code` kept). */
export async function query<T>(text: string, variables: Record<string, unknown> = {}, key = storedKey()): Promise<T> {
  let res: globalThis.Response;
  try {
    res = await fetch(ENDPOINT, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${key ?? ''}`,
      },
      body: JSON.stringify({ query: text, variables }),
    });
  } catch {
    throw new GraphQLError('network', 'NETWORK');
  }
  if (res.status === 401) throw new GraphQLError('unauthenticated', 'UNAUTHENTICATED');
  const body = (await res.json()) as Response<T>;
  const first = body.errors?.[0];
  if (first) throw new GraphQLError(first.message, first.extensions?.code);
  if (!body.data) throw new GraphQLError('no data', undefined);
  return body.data;
}

/** `query`, answering `null` instead of rejecting when the key may not read it. */
export async function tryQuery<T>(text: string, variables: Record<string, unknown> = {}): Promise<T | 'FORBIDDEN'> {
  try {
    return await query<T>(text, variables);
  } catch (e) {
    if (e instanceof GraphQLError && e.code === 'FORBIDDEN') return 'FORBIDDEN';
    throw e;
  }
}

export type LiveState = 'idle' | 'connecting' | 'live' | 'offline';

let client: Client | null = null;
// Bumped at sign-out: a disposed client's late events must not repaint the indicator.
let generation = 0;
const stateListeners = new Set<(s: LiveState) => void>();
const reconnectListeners = new Set<() => void>();

export function onLiveState(listener: (s: LiveState) => void): void {
  stateListeners.add(listener);
}

/** Called after a dropped socket comes back: views refetch what they show. */
export function onReconnect(listener: () => void): () => void {
  reconnectListeners.add(listener);
  return () => reconnectListeners.delete(listener);
}

function emit(state: LiveState): void {
  for (const l of stateListeners) l(state);
}

function socket(): Client {
  if (client) return client;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${ENDPOINT}`;
  const mine = generation;
  const report = (state: LiveState) => {
    if (mine === generation) emit(state);
  };
  client = createClient({
    url,
    connectionParams: () => ({ authorization: `Bearer ${storedKey() ?? ''}` }),
    lazy: true,
    // Views come and go; keep the socket between them rather than reconnecting each time.
    lazyCloseTimeout: 30_000,
    keepAlive: 20_000,
    retryAttempts: Number.MAX_SAFE_INTEGER,
    // A revoked key closes with 4403: retrying would only be refused again.
    shouldRetry: (event) => !(event && typeof event === 'object' && 'code' in event && event.code === 4403),
    on: {
      connecting: () => report('connecting'),
      connected: (_socket, _payload, wasRetry) => {
        report('live');
        if (wasRetry) for (const l of reconnectListeners) l();
      },
      // 1000: the lazy client closed an unused socket; anything else was a drop.
      closed: (event) => report(event instanceof CloseEvent && event.code === 1000 ? 'idle' : 'offline'),
    },
  });
  return client;
}

/** Subscribes; `next` gets each `data`; returns the unsubscribe function. */
export function subscribe<T>(text: string, variables: Record<string, unknown>, next: (data: T) => void): () => void {
  active += 1;
  showActive();
  const stop = socket().subscribe<T>(
    { query: text, variables },
    {
      next: (value) => {
        if (value.data) next(value.data as T);
      },
      error: (err) => {
        console.error('subscription failed', err instanceof Error ? err.message : JSON.stringify(err));
        emit('offline');
      },
      complete: () => {},
    },
  );
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    active -= 1;
    showActive();
    stop();
  };
}

// How many subscriptions the page holds, on <body data-subscriptions>: tests wait for a view's
// subscriptions before they change what it shows.
let active = 0;
function showActive(): void {
  document.body.dataset.subscriptions = String(active);
}

/** Closes the socket (sign-out). */
export async function closeSocket(): Promise<void> {
  const c = client;
  client = null;
  generation += 1;
  if (c) await c.dispose();
  emit('idle');
}
