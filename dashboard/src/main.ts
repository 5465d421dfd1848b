// The dashboard's shell: sign-in with an API key, the views that key allows, the hash router,
// the language switch and the live-connection indicator.
import './style.css';
import { closeSocket, GraphQLError, onLiveState, storedKey, storeKey } from './api';
import { type Access, academiesOf, probe, standalone } from './context';
import { h, note, put } from './dom';
import { lang, setLang, t } from './i18n';
import { academyView } from './views/academy';
import { auditView } from './views/audit';
import type { Cleanup } from './views/common';
import { establishmentView } from './views/establishment';
import { personView } from './views/person';

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const live = document.getElementById('live') as HTMLElement;
const langButton = document.getElementById('lang') as HTMLButtonElement;
const signOutButton = document.getElementById('signout') as HTMLButtonElement;

let access: Access | null = null;
let cleanup: Cleanup = () => {};
let liveState: Parameters<Parameters<typeof onLiveState>[0]>[0] = 'idle';

function chrome(): void {
  document.documentElement.lang = lang();
  document.title = t('title');
  const skip = document.querySelector('.skip');
  if (skip) skip.textContent = t('skip');
  nav.setAttribute('aria-label', t('navLabel'));
  langButton.textContent = t('switchLang');
  langButton.setAttribute('lang', lang() === 'fr' ? 'en' : 'fr');
  langButton.setAttribute('aria-label', t('switchLangLabel'));
  signOutButton.textContent = t('signOut');
  signOutButton.hidden = access === null;
  showLive();
}

function showLive(): void {
  const text = { idle: '', connecting: t('connecting'), live: t('live'), offline: t('offline') }[liveState];
  live.textContent = text;
  live.dataset.state = liveState;
}

onLiveState((state) => {
  liveState = state;
  showLive();
});

function renderNav(route: string[]): void {
  if (!access) {
    put(nav);
    return;
  }
  const links: [string, string, boolean][] = [];
  for (const a of academiesOf(access)) links.push([`#/academy/${encodeURIComponent(a)}`, `${t('academy')} ${a}`, route[0] === 'academy' && route[1] === a]);
  // A school's or a mediator's key: its establishments themselves (a few; a long list would
  // belong to an académie key).
  for (const e of standalone(access).slice(0, 8)) links.push([`#/establishment/${encodeURIComponent(e.uai)}`, e.name, route[0] === 'establishment' && route[1] === e.uai]);
  if (access.audit) links.push(['#/audit', t('audit'), route[0] === 'audit']);
  put(nav, h('ul', {}, links.map(([href, label, current]) => h('li', {}, h('a', { href, 'aria-current': current ? 'page' : null }, label)))));
}

function parseRoute(): string[] {
  return location.hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p !== '')
    .map((p) => decodeURIComponent(p));
}

function defaultRoute(a: Access): string | null {
  const first = academiesOf(a)[0];
  if (first) return `#/academy/${encodeURIComponent(first)}`;
  const site = standalone(a)[0];
  if (site) return `#/establishment/${encodeURIComponent(site.uai)}`;
  if (a.audit) return '#/audit';
  return null;
}

function route(): void {
  cleanup();
  cleanup = () => {};
  chrome();
  if (!access) {
    renderNav([]);
    signIn();
    return;
  }
  const parts = parseRoute();
  renderNav(parts);
  const [view, arg] = parts;
  if (view === 'academy' && arg && access.establishments) cleanup = academyView(main, access, arg);
  else if (view === 'establishment' && arg && access.establishments) cleanup = establishmentView(main, access, arg);
  else if (view === 'person' && arg && access.persons) cleanup = personView(main, arg);
  else if (view === 'audit' && access.audit) cleanup = auditView(main);
  else {
    const fallback = defaultRoute(access);
    if (fallback && location.hash !== fallback) {
      location.replace(fallback);
      return;
    }
    put(main, note(t('noView'), 'error'));
  }
}

function signIn(message?: string): void {
  const input = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', 'aria-describedby': 'key-help' });
  const status = h('div', { id: 'signin-status', role: 'status', 'aria-live': 'polite' }, message ? note(message, 'error') : null);
  const form = h(
    'form',
    { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, t('signInTitle')),
    h('p', { id: 'key-help' }, t('signInIntro')),
    h('div', { class: 'field' }, h('label', { for: 'key' }, t('keyLabel')), input),
    h('button', { type: 'submit' }, t('signIn')),
    status,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void attempt(input.value.trim(), status);
  });
  put(main, form);
  input.focus();
}

async function attempt(key: string, status?: HTMLElement): Promise<void> {
  try {
    // Stored first: every query of the probe sends it.
    storeKey(key);
    const found = await probe(key);
    access = found;
    if (!location.hash || location.hash === '#' || location.hash === '#/') {
      const fallback = defaultRoute(found);
      if (fallback) {
        location.replace(fallback);
        return; // hashchange routes
      }
    }
    route();
  } catch (e) {
    storeKey(null);
    access = null;
    const message = e instanceof GraphQLError && e.code === 'UNAUTHENTICATED' ? t('badKey') : e instanceof GraphQLError && e.code === 'NETWORK' ? t('networkError') : String(e);
    if (status) put(status, note(message, 'error'));
    else route();
  }
}

// The skip link must not touch the hash, which is the router's.
document.querySelector('.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', () => {
  route();
  main.focus();
});

langButton.addEventListener('click', () => {
  setLang(lang() === 'fr' ? 'en' : 'fr');
  route();
});

signOutButton.addEventListener('click', () => {
  storeKey(null);
  access = null;
  void closeSocket();
  history.replaceState(null, '', location.pathname);
  route();
});

const saved = storedKey();
chrome();
if (saved) {
  put(main, note(t('loading')));
  void attempt(saved);
} else {
  route();
}
