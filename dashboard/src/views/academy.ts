// The académie view: establishments by tier, tiers per axis, the list filtered by district and
// tier, kept current by `establishmentTierChanged`.
import { onReconnect, query, subscribe } from '../api';
import { tiersPerAxis } from '../charts';
import { type Access, academiesOf, type Position } from '../context';
import { announce, h, note, put, section, table } from '../dom';
import { num, pct, s, t } from '../i18n';
import { type Cleanup, errorNote } from './common';

interface Summary {
  academySummary: {
    establishments: number;
    tiers: { tier: number; count: number }[];
    axes: { code: string; tiers: { tier: number; count: number }[] }[];
  };
  maturityFramework: { axes: { code: string; title: string }[] };
  projectionPosition: Position;
}

interface Row {
  uai: string;
  name: string;
  kind: string;
  district: string;
  tier: number;
  shareMet: number;
}

interface TierChange {
  establishmentTierChanged: { uai: string; previousTier: number; tier: number; position: Position };
}

function counts(tiers: { tier: number; count: number }[]): number[] {
  const out = [0, 0, 0, 0];
  for (const { tier, count } of tiers) out[tier] = count;
  return out;
}

export function academyView(main: HTMLElement, access: Access, academy: string): Cleanup {
  const academies = academiesOf(access);
  const known = (access.establishments ?? []).filter((e) => e.academy === academy);
  if (!academies.includes(academy)) {
    put(main, h('h1', {}, academy), note(t('notFound'), 'error'));
    return () => {};
  }
  const districts = [...new Set(known.map((e) => e.district))].sort((a, b) => a.localeCompare(b, 'fr'));
  const names = new Map(known.map((e) => [e.uai, e.name]));

  const summaryRegion = h('div', { id: 'summary', 'aria-busy': 'true' }, note(t('loading')));
  const chartRegion = h('div', { id: 'axis-chart' });
  const listRegion = h('div', { id: 'establishment-list' });
  const districtSelect = h(
    'select',
    { id: 'filter-district', name: 'district' },
    h('option', { value: '' }, t('allDistricts')),
    districts.map((d) => h('option', { value: d }, d)),
  );
  const tierSelect = h(
    'select',
    { id: 'filter-tier', name: 'tier' },
    h('option', { value: '' }, t('allTiers')),
    [0, 1, 2, 3].map((n) => h('option', { value: String(n) }, t('tierN', { n }))),
  );
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': t('filter') },
    h('div', { class: 'field' }, h('label', { for: 'filter-district' }, t('district')), districtSelect),
    h('div', { class: 'field' }, h('label', { for: 'filter-tier' }, t('tier')), tierSelect),
  );
  filters.addEventListener('submit', (e) => e.preventDefault());
  districtSelect.addEventListener('change', () => void loadList());
  tierSelect.addEventListener('change', () => void loadList());

  const picker =
    academies.length > 1
      ? h(
          'nav',
          { class: 'picker', 'aria-label': t('chooseAcademy') },
          h(
            'ul',
            {},
            academies.map((a) =>
              h('li', {}, h('a', { href: `#/academy/${encodeURIComponent(a)}`, 'aria-current': a === academy ? 'page' : null }, a)),
            ),
          ),
        )
      : null;

  put(
    main,
    h('h1', {}, `${t('academy')} ${academy}`),
    picker,
    section(t('byTier'), summaryRegion),
    section(t('tiersPerAxis'), chartRegion),
    section(t('establishments'), filters, listRegion),
  );

  let min: Position | null = null;
  // A later request supersedes an earlier one still in flight (a filter changed, or a change
  // arrived): only the latest answer is drawn.
  let summarySeq = 0;
  let listSeq = 0;

  async function loadSummary(): Promise<Position | null> {
    const ticket = ++summarySeq;
    try {
      const data = await query<Summary>(
        `query($a: String!, $min: Position) {
           academySummary(academy: $a, minPosition: $min) { establishments tiers { tier count } axes { code tiers { tier count } } }
           maturityFramework { axes { code title } }
           projectionPosition }`,
        { a: academy, min },
      );
      if (ticket !== summarySeq) return null;
      const sum = data.academySummary;
      const byTier = counts(sum.tiers);
      put(
        summaryRegion,
        h(
          'dl',
          { class: 'tiles' },
          h('div', { class: 'tile total' }, h('dt', {}, t('establishments')), h('dd', { 'data-testid': 'total' }, num(sum.establishments))),
          byTier.map((count, tier) =>
            h(
              'div',
              { class: `tile tier-${tier}` },
              h('dt', {}, t('tierN', { n: tier })),
              h(
                'dd',
                {},
                h('span', { 'data-testid': `tier-count-${tier}` }, num(count)),
                h('span', { class: 'tile-share' }, sum.establishments > 0 ? pct(count / sum.establishments) : '—'),
              ),
            ),
          ),
        ),
      );
      summaryRegion.setAttribute('aria-busy', 'false');
      const titles = new Map(data.maturityFramework.axes.map((a) => [a.code, a.title]));
      const rows = sum.axes.map((a) => ({ label: titles.get(a.code) ?? a.code, tiers: counts(a.tiers) }));
      put(
        chartRegion,
        tiersPerAxis(rows, t('tiersPerAxis'), t('tiersPerAxisDesc'), (n) => t('tierN', { n })),
        h(
          'details',
          {},
          h('summary', {}, t('tiersPerAxis') + ' — ' + t('count')),
          table(
            t('tiersPerAxis'),
            [t('axis'), ...[0, 1, 2, 3].map((n) => t('tierN', { n }))],
            rows.map((r) => [r.label, ...r.tiers.map((c) => num(c))]),
            { numeric: [1, 2, 3, 4], hideCaption: true },
          ),
        ),
      );
      return data.projectionPosition;
    } catch (e) {
      put(summaryRegion, errorNote(e));
      summaryRegion.setAttribute('aria-busy', 'false');
      return null;
    }
  }

  async function loadList(): Promise<void> {
    const ticket = ++listSeq;
    listRegion.setAttribute('aria-busy', 'true');
    try {
      const data = await query<{ establishments: { edges: { node: Row }[] } }>(
        `query($a: String!, $d: String, $t: Int, $min: Position) {
           establishments(academy: $a, district: $d, tier: $t, first: 500, minPosition: $min) {
             edges { node { uai name kind district tier shareMet } } } }`,
        { a: academy, d: districtSelect.value || null, t: tierSelect.value === '' ? null : Number(tierSelect.value), min },
      );
      if (ticket !== listSeq) return;
      const rows = data.establishments.edges.map((e) => e.node).sort((a, b) => a.name.localeCompare(b.name, 'fr'));
      put(
        listRegion,
        rows.length === 0
          ? note(t('noEstablishment'))
          : table(
              t('listCaption', { a: academy, n: rows.length }),
              [t('name'), t('uai'), t('kind'), t('district'), t('tier'), t('shareMet')],
              rows.map((r) => [
                h('a', { href: `#/establishment/${encodeURIComponent(r.uai)}` }, r.name),
                h('code', {}, r.uai),
                s().kinds[r.kind] ?? r.kind,
                r.district,
                h('span', { class: `badge tier-${r.tier}`, 'data-testid': `tier-${r.uai}` }, t('tierN', { n: r.tier })),
                pct(r.shareMet),
              ]),
              { numeric: [5] },
            ),
      );
    } catch (e) {
      put(listRegion, errorNote(e));
    }
    listRegion.setAttribute('aria-busy', 'false');
  }

  let unsubscribe: () => void = () => {};
  const start = async () => {
    const [position] = await Promise.all([loadSummary(), loadList()]);
    if (position === null) return;
    unsubscribe();
    unsubscribe = subscribe<TierChange>(
      `subscription($a: String!, $after: Position) {
         establishmentTierChanged(academy: $a, after: $after) { uai previousTier tier position } }`,
      { a: academy, after: position },
      (data) => {
        const change = data.establishmentTierChanged;
        min = change.position;
        void loadSummary();
        void loadList();
        announce(t('lastChange', { name: names.get(change.uai) ?? change.uai, from: change.previousTier, to: change.tier }));
      },
    );
  };
  void start();
  const offReconnect = onReconnect(() => {
    void loadSummary();
    void loadList();
  });
  return () => {
    unsubscribe();
    offReconnect();
  };
}
