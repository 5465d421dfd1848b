// The establishment view: tier per axis and component, what is met and what is missing for the
// next palier, the open tickets and the equipment in service, and the workshop activity held
// there (the activity report and the workshops, for keys that may read mediation).
import { onReconnect, query, subscribe, tryQuery } from '../api';
import type { Access, Position } from '../context';
import { announce, h, note, put, section, table } from '../dom';
import { date, num, pct, s, t } from '../i18n';
import { type Cleanup, errorNote } from './common';

interface Criterion {
  code: string;
  palier: number;
  text: string;
  measuredBy: string | null;
}

interface EstablishmentData {
  establishment: {
    uai: string;
    name: string;
    kind: string;
    academy: string;
    district: string;
    tier: number;
    shareMet: number;
    bandwidthMbps: number | null;
    axes: { code: string; tier: number; shareMet: number; components: { code: string; tier: number; met: number; total: number }[] }[];
    missingForNextTier: Criterion[];
    criteriaMet: { criterion: Criterion; evidence: string; attestedBy: string | null }[];
  } | null;
  maturityFramework: { axes: { code: string; title: string; components: { code: string; title: string }[] }[] };
  projectionPosition: Position;
}

interface MaintenanceData {
  maintenance: {
    availability: { kind: string; total: number; inService: number; shareInService: number }[];
    equipment: { id: string; kind: string; label: string; space: string; inService: boolean; safetyStops: string[] }[];
  };
  ticketQueue: {
    edges: { node: { id: string; status: string; priority: number; symptom: string; equipment: string; safetyHazard: boolean; openedAt: string } }[];
  };
}

interface Row {
  key: string;
  activities: number;
  beneficiaries: number;
}

interface WorkshopsData {
  activityReport: {
    activities: number;
    beneficiaries: number;
    minutes: number;
    competences: Row[];
    workshops: { workshops: number; plannedSessions: number; heldSessions: number; reportsFiled: number; meanSatisfaction: number | null };
  };
  workshops: { edges: { node: { id: string; title: string; status: string; publics: string[]; plannedSessions: number; sessions: { state: string }[] } }[] };
}

interface PersonsData {
  persons: { edges: { node: { id: string; role: string; totalPix: number } }[] };
}

export function establishmentView(main: HTMLElement, access: Access, uai: string): Cleanup {
  const head = h('div', { id: 'establishment-head', 'aria-busy': 'true' }, h('h1', {}, uai), note(t('loading')));
  const tiersRegion = h('div', { id: 'tiers' });
  const nextRegion = h('div', { id: 'next-tier' });
  const maintenanceRegion = h('div', { id: 'maintenance' });
  const workshopsRegion = h('div', { id: 'workshops', 'data-testid': 'workshops' });
  const personsRegion = h('div', { id: 'persons' });
  put(
    main,
    head,
    section(t('axesAndComponents'), tiersRegion),
    section(t('criteria'), nextRegion),
    section(t('maintenance'), maintenanceRegion),
    section(t('workshops'), workshopsRegion),
    access.persons ? section(t('personsOf'), personsRegion) : null,
  );

  let min: Position | null = null;
  // Only the latest answer of each region is drawn (see the académie view).
  let establishmentSeq = 0;
  let maintenanceSeq = 0;

  async function loadEstablishment(): Promise<{ position: Position } | null> {
    const ticket = ++establishmentSeq;
    try {
      const data = await query<EstablishmentData>(
        `query($uai: String!, $min: Position) {
           establishment(uai: $uai, minPosition: $min) { uai name kind academy district tier shareMet bandwidthMbps
             axes { code tier shareMet components { code tier met total } }
             missingForNextTier { code palier text measuredBy }
             criteriaMet { criterion { code palier text measuredBy } evidence attestedBy } }
           maturityFramework { axes { code title components { code title } } }
           projectionPosition }`,
        { uai, min },
      );
      if (ticket !== establishmentSeq) return null;
      const e = data.establishment;
      if (!e) {
        put(head, h('h1', {}, uai), note(t('notFound'), 'error'));
        head.setAttribute('aria-busy', 'false');
        put(tiersRegion);
        return null;
      }
      const titles = new Map<string, string>();
      for (const axis of data.maturityFramework.axes) {
        titles.set(axis.code, axis.title);
        for (const c of axis.components) titles.set(`${axis.code}.${c.code}`, c.title);
      }
      put(
        head,
        h(
          'p',
          { class: 'crumbs' },
          access.academies.includes(e.academy)
            ? h('a', { href: `#/academy/${encodeURIComponent(e.academy)}` }, `${t('academy')} ${e.academy}`)
            : `${t('academy')} ${e.academy}`,
          ` › ${e.district}`,
        ),
        h('h1', {}, e.name),
        h(
          'dl',
          { class: 'facts' },
          h('div', {}, h('dt', {}, t('uai')), h('dd', {}, h('code', {}, e.uai))),
          h('div', {}, h('dt', {}, t('kind')), h('dd', {}, s().kinds[e.kind] ?? e.kind)),
          h('div', {}, h('dt', {}, t('overall')), h('dd', {}, h('span', { class: `badge tier-${e.tier}`, 'data-testid': 'overall-tier' }, t('tierN', { n: e.tier })))),
          h('div', {}, h('dt', {}, t('shareMet')), h('dd', { 'data-testid': 'share-met' }, pct(e.shareMet))),
          e.bandwidthMbps === null ? null : h('div', {}, h('dt', {}, t('bandwidth')), h('dd', {}, t('mbps', { n: e.bandwidthMbps }))),
        ),
      );
      head.setAttribute('aria-busy', 'false');
      put(
        tiersRegion,
        h(
          'div',
          { class: 'axes' },
          e.axes.map((axis) =>
            h(
              'div',
              { class: 'axis' },
              h('h3', {}, titles.get(axis.code) ?? axis.code, ' ', h('span', { class: `badge tier-${axis.tier}`, 'data-testid': `axis-tier-${axis.code}` }, t('tierN', { n: axis.tier }))),
              table(
                titles.get(axis.code) ?? axis.code,
                [t('component'), t('tier'), t('criteria')],
                axis.components.map((c) => [
                  titles.get(`${axis.code}.${c.code}`) ?? c.code,
                  h('span', { class: `badge tier-${c.tier}` }, t('tierN', { n: c.tier })),
                  h('span', {}, `${num(c.met)} / ${num(c.total)} `, h('meter', { min: 0, max: c.total, value: c.met, 'aria-hidden': 'true' })),
                ]),
                { hideCaption: true, numeric: [2] },
              ),
            ),
          ),
        ),
      );
      const next = e.tier + 1;
      put(
        nextRegion,
        next > 3 ? note(t('nextTierNone')) : h('h3', {}, t('nextTier', { n: next })),
        next > 3
          ? null
          : h(
              'div',
              { class: 'columns' },
              h(
                'div',
                {},
                h('h4', {}, t('missing', { n: e.missingForNextTier.length })),
                h(
                  'ul',
                  { class: 'criteria missing', 'data-testid': 'missing' },
                  e.missingForNextTier.map((c) => h('li', {}, h('code', {}, c.code), ' ', c.text, c.measuredBy ? h('em', {}, ` (${t('measured')})`) : null)),
                ),
              ),
              h(
                'details',
                { class: 'met-list' },
                h('summary', {}, h('h4', {}, t('met', { n: e.criteriaMet.filter((m) => m.criterion.palier <= next).length }))),
                h(
                  'ul',
                  { class: 'criteria met' },
                  e.criteriaMet
                    .filter((m) => m.criterion.palier <= next)
                    .map((m) =>
                      h(
                        'li',
                        {},
                        h('code', {}, m.criterion.code),
                        ' ',
                        m.criterion.text,
                        h('br'),
                        h('small', {}, `${t('evidence')} : ${m.evidence}`, m.attestedBy ? ` — ${t('attestedBy', { who: m.attestedBy })}` : ` — ${t('measured')}`),
                      ),
                    ),
                ),
              ),
            ),
      );
      return { position: data.projectionPosition };
    } catch (err) {
      put(head, h('h1', {}, uai), errorNote(err));
      head.setAttribute('aria-busy', 'false');
      return null;
    }
  }

  async function loadMaintenance(): Promise<void> {
    const ticket = ++maintenanceSeq;
    try {
      const data = await tryQuery<MaintenanceData>(
        `query($uai: String!, $min: Position) {
           maintenance(establishment: $uai, minPosition: $min) {
             availability { kind total inService shareInService }
             equipment { id kind label space inService safetyStops } }
           ticketQueue(establishment: $uai, status: [NEW, ASSIGNED, PLANNED, PENDING], first: 100, minPosition: $min) {
             edges { node { id status priority symptom equipment safetyHazard openedAt } } } }`,
        { uai, min },
      );
      if (ticket !== maintenanceSeq) return;
      if (data === 'FORBIDDEN') {
        put(maintenanceRegion, note(t('forbidden')));
        return;
      }
      const labels = new Map(data.maintenance.equipment.map((q) => [q.id, q.label]));
      const tickets = data.ticketQueue.edges.map((e) => e.node);
      put(
        maintenanceRegion,
        h('h3', {}, t('availability')),
        table(
          t('availability'),
          [t('equipment'), t('inService'), t('total'), t('share')],
          data.maintenance.availability.map((a) => [s().equipmentKinds[a.kind] ?? a.kind, num(a.inService), num(a.total), pct(a.shareInService)]),
          { hideCaption: true, numeric: [1, 2, 3] },
        ),
        h('h3', {}, t('ticketQueue')),
        tickets.length === 0
          ? note(t('noTickets'))
          : table(
              t('ticketQueue'),
              [t('symptom'), t('equipment'), t('priority'), t('status'), t('safety'), t('openedAt')],
              tickets.map((k) => [
                k.symptom,
                labels.get(k.equipment) ?? k.equipment,
                num(k.priority),
                s().statuses[k.status] ?? k.status,
                k.safetyHazard ? t('yes') : t('no'),
                date(k.openedAt),
              ]),
              { hideCaption: true, numeric: [2] },
            ),
      );
      maintenanceRegion.dataset.tickets = String(tickets.length);
    } catch (err) {
      put(maintenanceRegion, errorNote(err));
    }
  }

  async function loadWorkshops(): Promise<void> {
    try {
      const data = await tryQuery<WorkshopsData>(
        `query($uai: String!, $min: Position) {
           activityReport(establishment: $uai, minPosition: $min) { activities beneficiaries minutes
             competences { key activities beneficiaries }
             workshops { workshops plannedSessions heldSessions reportsFiled meanSatisfaction } }
           workshops(establishment: $uai, first: 50) { edges { node { id title status publics plannedSessions sessions { state } } } } }`,
        { uai, min },
      );
      if (data === 'FORBIDDEN') {
        put(workshopsRegion, note(t('forbidden')));
        return;
      }
      const r = data.activityReport;
      const list = data.workshops.edges.map((e) => e.node);
      put(
        workshopsRegion,
        h(
          'dl',
          { class: 'facts' },
          h('div', {}, h('dt', {}, t('activities')), h('dd', { 'data-testid': 'activities' }, num(r.activities))),
          h('div', {}, h('dt', {}, t('beneficiaries')), h('dd', {}, num(r.beneficiaries))),
          h('div', {}, h('dt', {}, t('hours')), h('dd', {}, num(Math.round(r.minutes / 6) / 10))),
          h('div', {}, h('dt', {}, t('workshopCount')), h('dd', { 'data-testid': 'workshop-count' }, num(r.workshops.workshops))),
          h('div', {}, h('dt', {}, t('sessionsHeld')), h('dd', {}, `${num(r.workshops.heldSessions)} / ${num(r.workshops.plannedSessions)}`)),
          r.workshops.meanSatisfaction === null ? null : h('div', {}, h('dt', {}, t('satisfaction')), h('dd', {}, `${num(r.workshops.meanSatisfaction)} / 5`)),
        ),
        list.length === 0
          ? note(t('noWorkshops'))
          : table(
              t('workshopList'),
              [t('workshopTitle'), t('status'), t('sessionsHeld')],
              list.map((w) => [w.title, s().workshopStatuses[w.status] ?? w.status, `${num(w.sessions.filter((x) => x.state === 'HELD' || x.state === 'EVALUATED').length)} / ${num(w.plannedSessions)}`]),
              { hideCaption: false, numeric: [2] },
            ),
        r.competences.length === 0
          ? null
          : table(
              t('competencesWorked'),
              [t('competence'), t('activities'), t('beneficiaries')],
              r.competences.map((c) => [c.key, num(c.activities), num(c.beneficiaries)]),
              { hideCaption: false, numeric: [1, 2] },
            ),
      );
    } catch (err) {
      put(workshopsRegion, errorNote(err));
    }
  }

  async function loadPersons(): Promise<void> {
    if (!access.persons) return;
    try {
      const data = await query<PersonsData>(
        `query($uai: String!) { persons(establishment: $uai, first: 200) { edges { node { id role totalPix } } } }`,
        { uai },
      );
      const rows = data.persons.edges.map((e) => e.node);
      put(
        personsRegion,
        rows.length === 0
          ? note(t('noPersons'))
          : table(
              t('personsOf'),
              [t('person'), t('role'), t('totalPix')],
              rows.map((p, i) => [h('a', { href: `#/person/${encodeURIComponent(p.id)}`, title: p.id }, `${t('person')} ${num(i + 1)} (${p.id.slice(0, 8)})`), s().roles[p.role] ?? p.role, num(p.totalPix)]),
              { hideCaption: true, numeric: [2] },
            ),
      );
    } catch (err) {
      put(personsRegion, errorNote(err));
    }
  }

  const stops: (() => void)[] = [];
  const start = async () => {
    const [first] = await Promise.all([loadEstablishment(), loadMaintenance(), loadWorkshops(), loadPersons()]);
    if (first === null) return;
    stops.push(
      subscribe<{ establishmentTierChanged: { uai: string; previousTier: number; tier: number; position: Position } }>(
        // No `academy` argument: that one asks for the whole académie's scope, and a key may
        // reach only this establishment; the server sends only what the key reaches anyway.
        `subscription($after: Position) { establishmentTierChanged(after: $after) { uai previousTier tier position } }`,
        { after: first.position },
        (data) => {
          const c = data.establishmentTierChanged;
          if (c.uai !== uai) return;
          min = c.position;
          void loadEstablishment();
          void loadMaintenance();
          void loadWorkshops();
          announce(t('lastChange', { name: uai, from: c.previousTier, to: c.tier }));
        },
      ),
    );
    if (maintenanceRegion.dataset.tickets !== undefined) {
      stops.push(
        subscribe<{ ticketChanged: { position: Position } }>(
          `subscription($uai: String!, $after: Position) { ticketChanged(establishment: $uai, after: $after) { ticketId status eventType position } }`,
          { uai, after: first.position },
          (data) => {
            min = data.ticketChanged.position;
            void loadMaintenance();
            void loadEstablishment();
          },
        ),
      );
    }
  };
  void start();
  const offReconnect = onReconnect(() => {
    void loadEstablishment();
    void loadMaintenance();
    void loadWorkshops();
  });
  return () => {
    for (const stop of stops) stop();
    offReconnect();
  };
}
