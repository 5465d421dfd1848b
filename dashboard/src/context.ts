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
  /** Académies whose summary it may read (a key scoped to some establishments only has none). */
  academies: string[];
  /** Whether it may read persons. */
  persons: boolean;
  /** Whether it may read the log (admin, auditor). */
  audit: boolean;
}

export function academiesOf(access: Access): string[] {
  return access.academies;
}

/** Establishments the key reaches outside the académies it may see whole (a school's key). */
export function standalone(access: Access): EstablishmentRef[] {
  const whole = new Set(access.academies);
  return (access.establishments ?? []).filter((e) => !whole.has(e.academy)).sort((a, b) => a.name.localeCompare(b.name, 'fr'));
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
  const names = [...new Set((establishments ?? []).map((e) => e.academy))].sort((a, b) => a.localeCompare(b, 'fr'));
  const allowed = await Promise.all(
    names.map((a) => tryQuery('query($a: String!) { academySummary(academy: $a) { establishments } }', { a })),
  );
  const academies = names.filter((_, i) => allowed[i] !== 'FORBIDDEN');
  return { establishments, academies, persons: persons !== 'FORBIDDEN', audit: audit !== 'FORBIDDEN' };
}

/** Positions are `Position` scalars: JSON numbers up to 2^64 − 1, kept as given. */
export type Position = number | string;
