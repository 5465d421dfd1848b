// The auditor's view of the log: its head, the hash-chain check, events counted by stream and
// type, and the latest events (filtered by stream prefix and type).
import { query } from '../api';
import type { Position } from '../context';
import { h, note, put, section, table } from '../dom';
import { date, num, t } from '../i18n';
import { type Cleanup, errorNote } from './common';

/** Pages of 500 read to count events by stream and type: 20,000 events at most. */
const MAX_PAGES = 40;
/** Events shown in the latest-events table. */
const RECENT = 25;

interface EventsPage {
  events: { edges: { node: { position: number; stream: string; type: string } }[]; pageInfo: { hasNextPage: boolean } };
}

interface Recent {
  events: {
    edges: { node: { position: number; stream: string; type: string; recordedAt: string; metadata: { actor: string | null } } }[];
    pageInfo: { hasNextPage: boolean };
  };
}

function category(stream: string): string {
  const dash = stream.indexOf('-');
  return dash < 0 ? stream : `${stream.slice(0, dash)}-`;
}

export function auditView(main: HTMLElement): Cleanup {
  const headRegion = h('div', { id: 'log-head' }, note(t('loading')));
  const verifyRegion = h('div', { id: 'verify', 'aria-live': 'polite' }, note(t('loading')));
  const countsRegion = h('div', { id: 'counts' }, note(t('loading')));
  const recentRegion = h('div', { id: 'recent' });
  const prefix = h('select', { id: 'recent-prefix', name: 'prefix' }, h('option', { value: '' }, t('any')));
  const type = h('select', { id: 'recent-type', name: 'type' }, h('option', { value: '' }, t('any')));
  const verifyButton = h('button', { type: 'button', onclick: () => void verify() }, t('verifyAgain'));
  const filters = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': t('recent') },
    h('div', { class: 'field' }, h('label', { for: 'recent-prefix' }, t('streamPrefix')), prefix),
    h('div', { class: 'field' }, h('label', { for: 'recent-type' }, t('eventType')), type),
    h('button', { type: 'submit' }, t('apply')),
  );
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    void recent();
  });
  put(
    main,
    h('h1', {}, t('audit')),
    h('div', { class: 'columns' }, section(t('logHead'), headRegion), section(t('verify'), verifyRegion, verifyButton)),
    section(t('byStreamAndType'), countsRegion),
    section(t('recent'), filters, recentRegion),
  );

  let head: Position = 0;

  async function loadHead(): Promise<void> {
    try {
      const data = await query<{ logHead: { position: number; hash: string } | null }>('{ logHead { position hash } }');
      head = data.logHead?.position ?? 0;
      put(
        headRegion,
        h(
          'dl',
          { class: 'facts' },
          h('div', {}, h('dt', {}, t('position')), h('dd', { 'data-testid': 'head-position' }, num(Number(head)))),
          h('div', {}, h('dt', {}, t('hash')), h('dd', {}, h('code', { class: 'hash' }, data.logHead?.hash ?? '—'))),
        ),
      );
    } catch (e) {
      put(headRegion, errorNote(e));
    }
  }

  async function verify(): Promise<void> {
    put(verifyRegion, note(t('loading')));
    try {
      const data = await query<{ verifyLog: { ok: boolean; checked: number; broken: { position: number; reason: string } | null } }>(
        '{ verifyLog { ok checked head { position hash } broken { position reason } } }',
      );
      const v = data.verifyLog;
      put(
        verifyRegion,
        v.ok
          ? h('p', { class: 'ok', 'data-testid': 'verify-ok' }, '✓ ', t('verifyOk', { n: v.checked }))
          : h('p', { class: 'note error', role: 'alert' }, '✗ ', t('verifyBroken', { p: v.broken?.position ?? '?', r: v.broken?.reason ?? '' })),
      );
    } catch (e) {
      put(verifyRegion, errorNote(e));
    }
  }

  async function counts(): Promise<void> {
    try {
      const tally = new Map<string, number>();
      const types = new Set<string>();
      const prefixes = new Set<string>();
      let after: number | null = null;
      let read = 0;
      let capped = false;
      for (let page = 0; ; page++) {
        if (page === MAX_PAGES) {
          capped = true;
          break;
        }
        const data: EventsPage = await query<EventsPage>(
          'query($after: Position) { events(after: $after, first: 500) { edges { node { position stream type } } pageInfo { hasNextPage } } }',
          { after },
        );
        for (const { node } of data.events.edges) {
          const key = `${category(node.stream)}\u0000${node.type}`;
          tally.set(key, (tally.get(key) ?? 0) + 1);
          types.add(node.type);
          prefixes.add(category(node.stream));
          after = node.position;
          read++;
        }
        if (!data.events.pageInfo.hasNextPage) break;
      }
      const rows = [...tally.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => [...k.split('\u0000'), n] as [string, string, number]);
      put(
        countsRegion,
        capped ? note(t('byStreamAndTypeCapped', { n: read })) : null,
        table(
          t('byStreamAndType'),
          [t('stream'), t('type'), t('count')],
          rows.map(([stream, type, n]) => [stream, type, num(n)]),
          { hideCaption: true, numeric: [2] },
        ),
      );
      for (const p of [...prefixes].sort()) prefix.append(h('option', { value: p }, p));
      for (const ty of [...types].sort()) type.append(h('option', { value: ty }, ty));
    } catch (e) {
      put(countsRegion, errorNote(e));
    }
  }

  async function recent(): Promise<void> {
    try {
      // The newest RECENT events that match. The log is read oldest first: without a filter
      // the last RECENT positions are them; with one, read the last 2,000 positions page by
      // page and keep the newest RECENT that match.
      const filtered = prefix.value !== '' || type.value !== '';
      let after = Math.max(0, Number(head) - (filtered ? 2000 : RECENT));
      let rows: Recent['events']['edges'][number]['node'][] = [];
      for (;;) {
        const data: Recent = await query<Recent>(
          `query($after: Position, $prefix: String, $types: [String!]) {
             events(after: $after, streamPrefix: $prefix, types: $types, first: 500) {
               edges { node { position stream type recordedAt metadata { actor } } } pageInfo { hasNextPage } } }`,
          { after, prefix: prefix.value || null, types: type.value ? [type.value] : null },
        );
        rows = [...rows, ...data.events.edges.map((e) => e.node)].slice(-RECENT);
        const last = rows[rows.length - 1];
        if (!data.events.pageInfo.hasNextPage || !last) break;
        after = last.position;
      }
      rows.reverse();
      put(
        recentRegion,
        rows.length === 0
          ? note('—')
          : table(
              t('recent'),
              [t('position'), t('stream'), t('type'), t('actor'), t('recordedAt')],
              rows.map((e) => [num(e.position), h('code', {}, e.stream), e.type, e.metadata.actor ?? '—', date(e.recordedAt)]),
              { hideCaption: true, numeric: [0] },
            ),
      );
    } catch (e) {
      put(recentRegion, errorNote(e));
    }
  }

  void (async () => {
    await loadHead();
    await Promise.all([verify(), counts(), recent()]);
  })();
  return () => {};
}
