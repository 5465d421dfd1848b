// The person view: the 16 competences as Pix's radial chart, levels per domain, the gap to a
// chosen target profile, the history of level changes, and `explain` for any competence.
import { onReconnect, query, subscribe } from '../api';
import { radial, steps } from '../charts';
import type { Position } from '../context';
import { announce, h, note, put, section, table } from '../dom';
import { date, num, s, t } from '../i18n';
import { type Cleanup, errorNote } from './common';

interface PersonData {
  person: {
    id: string;
    establishment: string;
    role: string;
    totalPix: number;
    competences: { code: string; title: string; level: number; pixScore: number }[];
    domains: { code: string; title: string; level: number; pixScore: number }[];
    history: { competence: string; from: number; to: number; position: Position; recordedAt: string }[];
    gapToTargetProfile?: { competence: string; expected: number; actual: number; missing: number }[];
  } | null;
  targetProfiles: { code: string; title: string; expectations: { competence: string; level: number }[] }[];
  projectionPosition: Position;
}

interface Explanation {
  person: {
    explain: {
      competence: string;
      level: number;
      pixScore: number;
      realPix: number;
      formula: string;
      elements: { position: Position; recordedAt: string; skill: string; status: string; earnedPix: number; counted: boolean; reason: string }[];
    };
  } | null;
}

const PROFILE = 'palier.profile';

export function personView(main: HTMLElement, id: string): Cleanup {
  const head = h('div', { id: 'person-head', 'aria-busy': 'true' }, h('h1', {}, t('person')), note(t('loading')));
  const chartRegion = h('div', { id: 'radial' });
  const domainsRegion = h('div', { id: 'domains' });
  const gapRegion = h('div', { id: 'gap' });
  const historyRegion = h('div', { id: 'history' });
  const profileSelect = h('select', { id: 'profile', name: 'profile' }, h('option', { value: '' }, t('noProfile')));
  const dialog = h('dialog', { id: 'explain', 'aria-labelledby': 'explain-title' });
  put(
    main,
    head,
    h('div', { class: 'field inline' }, h('label', { for: 'profile' }, t('targetProfile')), profileSelect),
    h('div', { class: 'columns' }, section(t('competences'), chartRegion), section(t('domains'), domainsRegion)),
    section(t('gap'), gapRegion),
    section(t('history'), historyRegion),
    dialog,
  );
  profileSelect.addEventListener('change', () => {
    sessionStorage.setItem(PROFILE, profileSelect.value);
    void load();
  });

  let min: Position | null = null;
  let profilesShown = false;
  let seq = 0;

  async function load(): Promise<{ position: Position; establishment: string } | null> {
    const ticket = ++seq;
    const profile = profileSelect.value || sessionStorage.getItem(PROFILE) || '';
    try {
      const data = await query<PersonData>(
        `query($id: String!, $profile: String!, $withGap: Boolean!, $min: Position) {
           person(id: $id, minPosition: $min) { id establishment role totalPix
             competences { code title level pixScore }
             domains { code title level pixScore }
             history { competence from to position recordedAt }
             gapToTargetProfile(profile: $profile) @include(if: $withGap) { competence expected actual missing } }
           targetProfiles { code title expectations { competence level } }
           projectionPosition }`,
        { id, profile, withGap: profile !== '', min },
      );
      if (ticket !== seq) return null;
      if (!profilesShown) {
        profilesShown = true;
        for (const p of data.targetProfiles) profileSelect.append(h('option', { value: p.code }, p.title));
        profileSelect.value = profile;
      }
      const p = data.person;
      if (!p) {
        put(head, h('h1', {}, t('person')), note(t('notFound'), 'error'));
        head.setAttribute('aria-busy', 'false');
        return null;
      }
      const chosen = data.targetProfiles.find((x) => x.code === profile);
      const expected = new Map((chosen?.expectations ?? []).map((e) => [e.competence, e.level]));
      put(
        head,
        h('p', { class: 'crumbs' }, h('a', { href: `#/establishment/${encodeURIComponent(p.establishment)}` }, `${t('establishment')} ${p.establishment}`)),
        h('h1', {}, `${t('person')} `, h('code', {}, p.id.slice(0, 8))),
        h(
          'dl',
          { class: 'facts' },
          h('div', {}, h('dt', {}, 'Id'), h('dd', {}, h('code', {}, p.id))),
          h('div', {}, h('dt', {}, t('role')), h('dd', {}, s().roles[p.role] ?? p.role)),
          h('div', {}, h('dt', {}, t('totalPix')), h('dd', { 'data-testid': 'total-pix' }, num(p.totalPix))),
        ),
      );
      head.setAttribute('aria-busy', 'false');
      const domainOf = (code: string) => Number(code.split('.')[0]);
      put(
        chartRegion,
        radial(
          p.competences.map((c) => ({ code: c.code, domain: domainOf(c.code), level: c.level, target: expected.get(c.code) })),
          t('competences'),
          t('competencesDesc'),
        ),
        table(
          t('competences'),
          [t('competence'), t('level'), t('pix'), ...(chosen ? [t('expected')] : []), t('explain')],
          p.competences.map((c) => {
            const row: (Node | string)[] = [
              `${c.code} ${c.title}`,
              h('span', { 'data-testid': `level-${c.code}` }, num(c.level)),
              num(c.pixScore),
            ];
            if (chosen) row.push(num(expected.get(c.code) ?? 0));
            row.push(h('button', { type: 'button', class: 'small', 'data-competence': c.code, onclick: () => void explain(c.code, c.title) }, t('explain'), h('span', { class: 'sr-only' }, ` ${c.code}`)));
            return row;
          }),
          { hideCaption: true, numeric: chosen ? [1, 2, 3] : [1, 2] },
        ),
      );
      put(
        domainsRegion,
        h(
          'ul',
          { class: 'domains' },
          p.domains.map((d) =>
            h(
              'li',
              {},
              h('span', { class: 'swatch', 'data-domain': d.code, 'aria-hidden': 'true' }),
              h('span', { class: 'domain-title' }, `${d.code}. ${d.title}`),
              h('span', { class: 'domain-level', 'data-testid': `domain-${d.code}` }, `${t('level')} ${num(d.level)}`),
              h('span', { class: 'domain-pix' }, `${num(d.pixScore)} pix`),
            ),
          ),
        ),
      );
      const gaps = p.gapToTargetProfile;
      put(
        gapRegion,
        !chosen || !gaps
          ? note(t('noProfile'))
          : gaps.length === 0
            ? note(t('gapNone'))
            : table(
                `${t('gap')} — ${chosen.title}`,
                [t('competence'), t('expected'), t('actual'), t('missing', { n: gaps.reduce((a, g) => a + g.missing, 0) })],
                gaps.map((g) => [g.competence, num(g.expected), num(g.actual), num(g.missing)]),
                { numeric: [1, 2, 3] },
              ),
      );
      const levels = new Map<string, number>();
      let sum = 0;
      const sums = [0];
      for (const change of p.history) {
        sum += change.to - (levels.get(change.competence) ?? 0);
        levels.set(change.competence, change.to);
        sums.push(sum);
      }
      put(
        historyRegion,
        p.history.length === 0
          ? note(t('noHistory'))
          : [
              steps(sums, t('history'), t('historyDesc')),
              table(
                t('history'),
                [t('when'), t('competence'), t('change'), t('position')],
                [...p.history].reverse().slice(0, 30).map((c) => [date(c.recordedAt), c.competence, `${num(c.from)} → ${num(c.to)}`, num(Number(c.position))]),
                { hideCaption: true, numeric: [3] },
              ),
            ],
      );
      return { position: data.projectionPosition, establishment: p.establishment };
    } catch (err) {
      put(head, h('h1', {}, t('person')), errorNote(err));
      head.setAttribute('aria-busy', 'false');
      return null;
    }
  }

  async function explain(code: string, title: string): Promise<void> {
    const opener = document.activeElement as HTMLElement | null;
    try {
      const data = await query<Explanation>(
        `query($id: String!, $c: String!) { person(id: $id) { explain(competence: $c) {
           competence level pixScore realPix formula
           elements { position recordedAt skill status earnedPix counted reason } } } }`,
        { id, c: code },
      );
      const x = data.person?.explain;
      if (!x) return;
      const close = h('button', { type: 'button', onclick: () => dialog.close() }, t('close'));
      put(
        dialog,
        h('h2', { id: 'explain-title' }, t('explainTitle', { lvl: x.level, c: `${code} ${title}` })),
        h('p', {}, h('code', {}, x.formula)),
        table(
          t('explainTitle', { lvl: x.level, c: code }),
          [t('skill'), t('pix'), t('counted'), t('reason')],
          x.elements.map((el) => [el.skill, num(el.earnedPix, 2), el.counted ? t('counted') : t('notCounted'), el.reason]),
          { hideCaption: true, numeric: [1] },
        ),
        close,
      );
      dialog.addEventListener('close', () => opener?.focus(), { once: true });
      dialog.showModal();
      close.focus();
    } catch (err) {
      announce(String(err));
    }
  }

  let unsubscribe: () => void = () => {};
  const start = async () => {
    const first = await load();
    if (!first) return;
    unsubscribe = subscribe<{ personLevelChanged: { personId: string; competence: string; from: number; to: number; position: Position } }>(
      `subscription($uai: String!, $after: Position) { personLevelChanged(establishment: $uai, after: $after) { personId competence from to position } }`,
      { uai: first.establishment, after: first.position },
      (data) => {
        const c = data.personLevelChanged;
        if (c.personId !== id) return;
        min = c.position;
        void load();
        announce(`${c.competence} : ${num(c.from)} → ${num(c.to)}`);
      },
    );
  };
  void start();
  const offReconnect = onReconnect(() => void load());
  return () => {
    unsubscribe();
    offReconnect();
  };
}
