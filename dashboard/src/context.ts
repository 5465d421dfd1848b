// What the signed-in key may see, found by asking the API itself: a query the key may not run
// answers FORBIDDEN, and lists without a filter hold only what the key reaches. So the page
// needs no private endpoint to know its scopes.
import { query, tryQuery } from './api';

export interface EstablishmentRef {
  uai: string;
  name: string;
  academy: string;
  district: string;
}

export interface Access {
  /** Establishments the key reaches (`null`: it may not read establishments). */
  establishments: EstablishmentRef[] | null;
  /** Whether it may read persons. */
  persons: boolean;
  /** Whether it may read the log (admin, auditor). */
  audit: boolean;
}

export function academiesOf(access: Access): string[] {
  const names = new Set((access.establishments ?? []).map((e) => e.academy));
  return [...names].sort((a, b) => a.localeCompare(b, 'fr'));
}

interface EstablishmentPage {
  establishments: {
    edges: { node: EstablishmentRef }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

async function allEstablishments(): Promise<EstablishmentRef[] | null> {
  const out: EstablishmentRef[] = [];
  let after: string | null = null;
  for (;;) {
    const page: EstablishmentPage | 'FORBIDDEN' = await tryQuery<EstablishmentPage>(
      `query($after: String) { establishments(first: 500, after: $after) {
         edges { node { uai name academy district } } pageInfo { hasNextPage endCursor } } }`,
      { after },
    );
    if (page === 'FORBIDDEN') return null;
    out.push(...page.establishments.edges.map((e) => e.node));
    if (!page.establishments.pageInfo.hasNextPage) return out;
    after = page.establishments.pageInfo.endCursor;
  }
}

/** Probes the key; rejects with UNAUTHENTICATED when the server refuses it. */
export async function probe(key: string): Promise<Access> {
  // The first request alone, so that a refused key fails once, with its 401.
  await query<{ projectionPosition: string }>('{ projectionPosition }', {}, key);
  const [establishments, persons, audit] = await Promise.all([
    allEstablishments(),
    tryQuery('{ persons(first: 1) { edges { cursor } } }'),
    tryQuery('{ logHead { position } }'),
  ]);
  return { establishments, persons: persons !== 'FORBIDDEN', audit: audit !== 'FORBIDDEN' };
}

/** Positions are `Position` scalars: JSON numbers up to 2^64 − 1, kept as given. */
export type Position = number | string;
