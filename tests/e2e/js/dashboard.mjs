// The dashboard in a real headless Chromium (Debian's package, driven by playwright-core),
// against a running palier filled by `palier seed-demo`. Signs in with a dashboard key scoped
// to the Lyon académie, compares the figures shown with the API's answers, sends mutations
// through the API and waits for the page to change without a reload (within 1 s), checks that
// nothing of another académie shows, runs axe-core on every view, and fails on any Content
// Security Policy violation or page error. With PALIER_SCREENSHOTS=<dir>, saves a PNG of each
// view there. Prints one JSON line (the live-update delays) on success. Usage:
//   node dashboard.mjs <http base url> <admin token>
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const [base, adminToken] = process.argv.slice(2);
if (!base || !adminToken) {
  console.error('usage: node dashboard.mjs <http base url> <admin token>');
  process.exit(2);
}
const CHROMIUM = process.env.PALIER_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.PALIER_SCREENSHOTS;
const LIVE_LIMIT_MS = Number(process.env.LIVE_LIMIT_MS ?? 1000);
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function graphql(token, query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}
const admin = (q, v) => graphql(adminToken, q, v);

const openTicket = (input) => admin('mutation($i: OpenTicketInput!) { openTicket(input: $i) { position } }', { i: input });

const RUN = Date.now().toString(36);
async function createKey(name, role, academies) {
  const id = `${name}-${RUN}`;
  const data = await admin(
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
    { input: { id, name: id, role, academies } },
  );
  return data.createApiKey.secret;
}

// Text of the page's main region (what a user reads).
const mainText = (page) => page.locator('main').innerText();
const testText = (page, id) => page.locator(`[data-testid="${id}"]`).innerText();
// Intl's French grouping uses a narrow no-break space: compare digits only.
const digits = (text) => Number(text.replace(/[^\d]/g, ''));

/** Sends `mutate`, then waits until `changed()` holds in the page; returns the delay (ms). */
async function liveDelay(page, what, subscriptions, mutate, changed, arg) {
  await page.waitForSelector(`body[data-subscriptions="${subscriptions}"]`, { timeout: 10_000 });
  await page.waitForSelector('#live[data-state="live"]', { timeout: 10_000 });
  await mutate();
  const sent = Date.now();
  try {
    await page.waitForFunction(changed, arg, { timeout: LIVE_LIMIT_MS, polling: 'raf' });
  } catch {
    throw new Error(`${what}: the page did not change within ${LIVE_LIMIT_MS} ms of the mutation`);
  }
  return Date.now() - sent;
}

async function axe(page, view) {
  // Runtime.evaluate is not subject to the page's CSP, so axe needs no 'unsafe-inline'.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(
    bad.length === 0,
    `axe-core, ${view}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`,
  );
  return result.violations.length;
}

async function shot(page, name) {
  if (!SHOTS) return;
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const profileDir = mkdtempSync(join(tmpdir(), 'palier-chromium-'));
// A fresh profile directory per run (Playwright takes it as the persistent context's
// user-data-dir rather than as an argument).
const context = await chromium.launchPersistentContext(profileDir, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1180, height: 820 },
  locale: 'fr-FR',
  deviceScaleFactor: 1,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const problems = [];
const report = { live: {}, axeMinorViolations: {} };
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

  // The page is served with its policy and types.
  const response = await page.goto(`${base}/dashboard`);
  check(response.status() === 200, `GET /dashboard: ${response.status()}`);
  const csp = response.headers()['content-security-policy'] ?? '';
  check(csp.includes("default-src 'none'") && csp.includes("script-src 'self'") && csp.includes('connect-src'), `CSP: ${csp}`);

  // A wrong key is refused on the sign-in form.
  await page.fill('#key', 'not-a-key');
  await page.click('form.signin button[type="submit"]');
  await page.waitForSelector('#signin-status .error');
  report.axeMinorViolations.signin = await axe(page, 'sign-in');
  await shot(page, 'signin');
  // The browser logs the refused request (401) as an error: expected here.
  problems.length = 0;

  // A dashboard key of the Lyon académie.
  const lyonKey = await createKey('dashboard-lyon', 'DASHBOARD', ['Lyon']);
  await page.fill('#key', lyonKey);
  await page.click('form.signin button[type="submit"]');
  await page.waitForFunction(() => location.hash === '#/academy/Lyon');
  await page.waitForSelector('[data-testid="tier-count-0"]');
  await page.waitForSelector('#establishment-list table');

  // The numbers shown are the API's.
  const asLyon = (q, v) => graphql(lyonKey, q, v);
  const summary = (await asLyon('{ academySummary(academy: "Lyon") { establishments tiers { tier count } } }')).academySummary;
  check(digits(await testText(page, 'total')) === summary.establishments, 'académie total differs from academySummary');
  const shown = async () => Promise.all([0, 1, 2, 3].map(async (n) => digits(await testText(page, `tier-count-${n}`))));
  const before = await shown();
  for (const { tier, count } of summary.tiers) check(before[tier] === count, `tier ${tier}: page ${before[tier]}, API ${count}`);
  const list = (await asLyon('{ establishments(academy: "Lyon", first: 50) { edges { node { uai name tier } } } }')).establishments.edges.map((e) => e.node);
  check((await page.locator('#establishment-list tbody tr').count()) === list.length, 'list length differs');
  for (const e of list) check((await testText(page, `tier-${e.uai}`)).endsWith(String(e.tier)), `tier of ${e.uai} differs`);
  // Filter by district and tier: the list follows the API.
  await page.selectOption('#filter-tier', '2');
  await page.waitForFunction(() => document.querySelectorAll('#establishment-list tbody tr').length >= 0 && !document.querySelector('#establishment-list[aria-busy="true"]'));
  const tier2 = (await asLyon('{ establishments(academy: "Lyon", tier: 2, first: 50) { edges { node { uai } } } }')).establishments.edges;
  await page.waitForFunction((n) => document.querySelectorAll('#establishment-list tbody tr').length === n, tier2.length);
  await page.selectOption('#filter-tier', '');
  await page.waitForFunction((n) => document.querySelectorAll('#establishment-list tbody tr').length === n, list.length);

  // Nothing of another académie, even asked for by address.
  const others = (await admin('{ establishments(first: 100) { edges { node { uai name academy } } } }')).establishments.edges
    .map((e) => e.node)
    .filter((e) => e.academy !== 'Lyon');
  check(others.length > 0, 'the demo has other académies');
  const everything = await page.locator('body').innerText();
  for (const o of others) check(!everything.includes(o.name) && !everything.includes(o.uai), `the Lyon key sees ${o.name}`);
  check(!everything.includes('Créteil') && !everything.includes('Aix-Marseille'), 'the Lyon key sees another académie');

  // Keyboard: the first Tab reaches the skip link, which moves focus to the content without
  // touching the route; Tab then walks the links and controls, each with a visible focus ring.
  // (A reload starts the tab order afresh; the key stays in the session.)
  await page.reload();
  await page.waitForSelector('#establishment-list table');
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement?.classList.contains('skip')), 'the first Tab reaches the skip link');
  await page.keyboard.press('Enter');
  check(await page.evaluate(() => document.activeElement?.id === 'main' && location.hash === '#/academy/Lyon'), 'the skip link moves focus to the content');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const el = document.activeElement;
    return el ? { tag: el.tagName, outline: getComputedStyle(el).outlineStyle } : null;
  });
  check(focused && focused.tag !== 'BODY' && focused.outline !== 'none', `Tab from the content reaches a control with a focus ring: ${JSON.stringify(focused)}`);
  report.axeMinorViolations.academy = await axe(page, 'académie');
  await shot(page, 'academy');

  // Live: a safety stop on the projector of a Lyon establishment at palier ≥ 1 takes it back to
  // palier 0 (the visualisation criterion is measured from the inventory).
  const site = list.find((e) => e.tier >= 1);
  check(site, 'a Lyon establishment at palier 1 or more');
  const equipment = (await admin('query($u: String!) { maintenance(establishment: $u) { equipment { id kind } } }', { u: site.uai })).maintenance.equipment;
  const projector = equipment.find((q) => q.kind === 'VIDEO_PROJECTOR');
  const accessPoint = equipment.find((q) => q.kind === 'WIFI_ACCESS_POINT');
  const expected0 = before[0] + 1;
  report.live.academyTierCounts = await liveDelay(
    page,
    'académie view',
    1,
    () => openTicket({ equipment: projector.id, symptom: 'odeur de brûlé', urgency: 5, impact: 4, reporter: 'professeur de SVT', safetyHazard: true }),
    (n) => Number(document.querySelector('[data-testid="tier-count-0"]')?.textContent?.replace(/[^\d]/g, '')) === n,
    expected0,
  );

  // The establishment view: tiers, what is missing, the ticket queue, the workshop activity.
  await page.click(`a[href="#/establishment/${site.uai}"]`);
  await page.waitForSelector('[data-testid="overall-tier"]');
  await page.waitForSelector('#maintenance table');
  const est = (
    await asLyon('query($u: String!) { establishment(uai: $u) { tier missingForNextTier { code } axes { code tier } } ticketQueue(establishment: $u) { edges { cursor } } }', { u: site.uai })
  );
  check((await testText(page, 'overall-tier')).endsWith(String(est.establishment.tier)), 'overall tier differs');
  for (const a of est.establishment.axes) check((await testText(page, `axis-tier-${a.code}`)).endsWith(String(a.tier)), `axis ${a.code} differs`);
  check((await page.locator('[data-testid="missing"] li').count()) === est.establishment.missingForNextTier.length, 'missing criteria differ');
  await page.waitForSelector('[data-testid="activities"]');
  const activity = await asLyon(
    'query($u: String!) { activityReport(establishment: $u) { activities workshops { workshops } } }',
    { u: site.uai },
  );
  check(
    (await testText(page, 'activities')).replace(/[^\d]/g, '') === String(activity.activityReport.activities),
    'workshop activities differ',
  );
  check(
    (await testText(page, 'workshop-count')).replace(/[^\d]/g, '') === String(activity.activityReport.workshops.workshops),
    'workshop count differs',
  );
  const ticketsBefore = await page.locator('#maintenance table').nth(1).locator('tbody tr').count();
  check(ticketsBefore === est.ticketQueue.edges.length, `tickets: page ${ticketsBefore}, API ${est.ticketQueue.edges.length}`);
  report.live.ticketQueue = await liveDelay(
    page,
    'establishment view',
    2,
    () => openTicket({ equipment: accessPoint.id, symptom: 'le Wi-Fi décroche', urgency: 3, impact: 3, reporter: 'CPE', safetyHazard: false }),
    (n) => document.querySelector('#maintenance')?.getAttribute('data-tickets') === String(n),
    ticketsBefore + 1,
  );
  report.axeMinorViolations.establishment = await axe(page, 'establishment');
  await shot(page, 'establishment');

  // The person view: levels as the API gives them, live when results are recorded.
  const persons = (await asLyon('query($u: String!) { persons(establishment: $u, first: 10) { edges { node { id role } } } }', { u: site.uai })).persons.edges.map((e) => e.node);
  const person = persons.find((p) => p.role === 'TEACHER') ?? persons[0];
  await page.click(`a[href="#/person/${person.id}"]`);
  await page.waitForSelector('[data-testid="total-pix"]');
  const p = (await asLyon('query($id: String!) { person(id: $id) { totalPix competences { code level } domains { code level } } }', { id: person.id })).person;
  check(digits(await testText(page, 'total-pix')) === p.totalPix, 'total pix differs');
  for (const c of p.competences) check(digits(await testText(page, `level-${c.code}`)) === c.level, `level of ${c.code} differs`);
  for (const d of p.domains) check(digits(await testText(page, `domain-${d.code}`)) === d.level, `domain ${d.code} differs`);
  await page.selectOption('#profile', 'mediateur-numerique-nc-2023');
  await page.waitForSelector('#gap table, #gap .note');
  const low = p.competences.find((c) => c.level <= 5);
  const target = low.level + 1;
  // 8 more pix in a new skill: one level more.
  report.live.personLevel = await liveDelay(
    page,
    'person view',
    1,
    () =>
      admin('mutation($i: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $i) { position } }', {
        i: {
          person: person.id,
          source: { kind: 'CAMPAIGN', campaignCode: 'DASHBOARD1' },
          elements: [{ competence: low.code, skill: '@dashboard-e2e', status: 'VALIDATED', earnedPix: 8 }],
        },
      }),
    ([code, n]) => Number(document.querySelector(`[data-testid="level-${code}"]`)?.textContent) >= n,
    [low.code, target],
  );
  report.axeMinorViolations.person = await axe(page, 'person');
  // explain, through the keyboard: the dialog opens and Escape closes it.
  await page.locator(`button[data-competence="${low.code}"]`).focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open]');
  check((await page.locator('dialog[open]').innerText()).includes(low.code), 'explain names the competence');
  report.axeMinorViolations.explain = await axe(page, 'explain');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog:not([open])', { state: 'attached' });
  await shot(page, 'person');

  // A key of Lyon asking for an establishment of another académie by address: nothing.
  await page.goto(`${base}/dashboard#/establishment/${others[0].uai}`);
  await page.waitForSelector('#establishment-head .error');
  check(!(await mainText(page)).includes(others[0].name), 'an out-of-scope establishment shows');
  await page.goto(`${base}/dashboard#/academy/${encodeURIComponent(others[0].academy)}`);
  await page.waitForSelector('main .error');
  check(!(await page.locator('body').innerText()).includes(others[0].name), 'an out-of-scope académie shows');
  // The log is not a dashboard key's.
  check((await page.locator('#nav a[href="#/audit"]').count()) === 0, 'a dashboard key sees the log');

  // English, then sign out.
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  check((await page.locator('#lang').innerText()) === 'Français', 'language switch');
  await page.click('#lang');
  await page.click('#signout');
  await page.waitForSelector('#key');

  // A school's digital referent: a MEDIATOR key of one establishment lands on it, sees its
  // equipment and tickets, and neither its académie's figures nor persons.
  const referentKey = await graphql(adminToken,
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
    { input: { id: `referent-${RUN}`, name: 'référent numérique', role: 'MEDIATOR', establishments: [site.uai] } },
  ).then((d) => d.createApiKey.secret);
  await page.fill('#key', referentKey);
  await page.click('form.signin button[type="submit"]');
  await page.waitForFunction((u) => location.hash === `#/establishment/${u}`, site.uai);
  await page.waitForSelector('#maintenance table');
  check((await page.locator('#nav a[href^="#/academy/"]').count()) === 0, 'a referent sees an académie');
  check((await page.locator('#persons').count()) === 0, 'a mediator key sees persons');
  const queue = (await graphql(referentKey, 'query($u: String!) { ticketQueue(establishment: $u, status: [NEW, ASSIGNED, PLANNED, PENDING]) { edges { cursor } } }', { u: site.uai })).ticketQueue.edges.length;
  check((await page.getAttribute('#maintenance', 'data-tickets')) === String(queue), 'the referent\'s ticket queue differs');
  report.axeMinorViolations.referent = await axe(page, 'referent');
  await page.click('#signout');
  await page.waitForSelector('#key');

  // An auditor: the log's head and the chain check.
  const auditorKey = await createKey('auditor', 'AUDITOR', []);
  await page.fill('#key', auditorKey);
  await page.click('form.signin button[type="submit"]');
  await page.waitForSelector('#nav a[href="#/audit"]');
  await page.click('#nav a[href="#/audit"]');
  await page.waitForSelector('[data-testid="verify-ok"]', { timeout: 20_000 });
  await page.waitForSelector('#counts table');
  await page.waitForSelector('#recent table');
  const head = (await graphql(auditorKey, '{ logHead { position } }')).logHead.position;
  check(digits(await testText(page, 'head-position')) === head, 'head differs');
  const byType = (await graphql(auditorKey, '{ events(first: 500, types: ["TicketOpened"]) { edges { cursor } } }')).events.edges.length;
  const row = page.locator('#counts tbody tr', { hasText: 'TicketOpened' });
  check(digits(await row.locator('td').last().innerText()) === byType, 'TicketOpened count differs');
  report.axeMinorViolations.audit = await axe(page, 'audit');
  await shot(page, 'audit');

  // A tablet in portrait: the académie view still fits its width.
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.click('#nav a[href="#/academy/Lyon"]');
  await page.waitForSelector('#establishment-list table');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the académie view is ${overflow}px wider than a portrait tablet`);
  await shot(page, 'academy-tablet');

  const csp_ = problems.filter((m) => /Content Security Policy|Refused to/i.test(m));
  check(csp_.length === 0, `CSP violations: ${csp_.join('; ')}`);
  check(problems.length === 0, `page problems: ${problems.join('; ')}`);
  console.log(JSON.stringify(report));
} catch (e) {
  // What the page showed when it failed, for the test's message.
  const page = context.pages()[0];
  const text = page ? await page.locator('body').innerText().catch(() => '') : '';
  console.error(`page text at failure:\n${text}\nproblems: ${problems.join('; ')}`);
  throw e;
} finally {
  await context.close();
  rmSync(profileDir, { recursive: true, force: true });
}
