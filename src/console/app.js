// ivrhub console: the day at a glance, from the REST API.
//
// Plain JavaScript, no library, no build step. Everything shown comes from
// /api/v1 with the bearer token of the person who logged in; the token pair
// lives in sessionStorage (gone when the tab closes) and nothing else is
// kept: switching tenant or logging out throws away every figure, and an
// answer that arrives after such a switch is dropped (see `generation`).
// Any 401 ends the session and returns to the login form with a message.
// Every string shown is in STRINGS, one dictionary per language; Hebrew
// turns the page right-to-left. Data is put in the page with textContent
// and createElement only (never innerHTML), and the server's flow diagram
// is imported without scripts or event attributes.
'use strict';

const STRINGS = {
  en: {
    // <en>
    'title': 'ivrhub console',
    'logout': 'Log out',
    'lang.other': 'עברית',
    'login.heading': 'Log in',
    'login.email': 'Email',
    'login.password': 'Password',
    'login.submit': 'Log in',
    'login.failed': 'Wrong email or password.',
    'login.throttled': 'Too many attempts: try again in {seconds} seconds.',
    'login.expired': 'Your session has ended. Please log in again.',
    'login.loggedOut': 'You have logged out.',
    'login.unreachable': 'The server could not be reached. Try again.',
    'controls.tenant': 'Tenant',
    'controls.did': 'Number',
    'controls.allDids': 'All numbers',
    'controls.range': 'Range',
    'controls.from': 'From',
    'controls.to': 'To (inclusive)',
    'controls.apply': 'Show',
    'controls.noTenant': 'There is no tenant yet.',
    'range.today': 'Today',
    'range.yesterday': 'Yesterday',
    'range.last7': 'Last 7 days',
    'range.custom': 'Custom dates',
    'range.line': '{tenant}: {from} – {to} ({zone}); compared with {previousFrom} – {previousTo}',
    'range.invalid': 'Pick a start date and an end date on or after it.',
    'loading': 'Loading…',
    'failed': 'Could not load this part (HTTP {status}).',
    'empty': 'No calls in this range.',
    'kpi.calls': 'Calls',
    'kpi.asr': 'Answer rate (ASR)',
    'kpi.acd': 'Average call (ACD)',
    'kpi.p95': 'Dial time, p95',
    'kpi.previous': 'Previous period: {value}',
    'series.hourly': 'Calls per hour',
    'series.daily': 'Calls per day',
    'series.answered': 'answered',
    'series.bar': '{when}: {calls} calls, {answered} answered',
    'statuses.heading': 'Calls by status',
    'causes.heading': 'Calls by hang-up cause',
    'causes.none': 'no cause',
    'funnel.heading': 'Menu funnel',
    'funnel.version': 'Calls that ran on the live version {version}.',
    'funnel.anyVersion': 'Nothing is published: steps of every version.',
    'funnel.node': 'Menu',
    'funnel.reached': 'Reached',
    'funnel.pressed': 'Pressed',
    'funnel.timeouts': 'No key',
    'funnel.invalid': 'Wrong key',
    'funnel.ended': 'Left here',
    'funnel.hungUp': 'Hung up by the IVR',
    'funnel.empty': 'No call steps in this range.',
    'flow.heading': 'Live flow',
    'flow.show': 'Show the diagram',
    'flow.hide': 'Hide the diagram',
    'flow.none': 'Nothing is published yet.',
    'flow.busy': 'The diagram is being drawn for someone else: try again in a moment.',
    'flow.tooBig': 'This flow is too large to draw here.',
    'flow.zoom': 'Click the diagram to see it at full size, and again to fit it.',
    'versions.heading': 'Version history',
    'versions.version': 'Version',
    'versions.published': 'Published',
    'versions.author': 'By',
    'versions.message': 'Message',
    'versions.live': 'live',
    'versions.empty': 'No version yet.',
    'alerts.heading': 'Alert events',
    'alerts.none': 'No alert events.',
    'alerts.at': 'Time',
    'alerts.rule': 'Rule',
    'alerts.metric': 'Figure',
    'alerts.state': 'State',
    'alerts.value': 'Value',
    'alerts.threshold': 'Threshold',
    'alerts.calls': 'Calls',
    'alerts.window': 'Window',
    'alerts.minutes': '{minutes} min',
    'state.firing': 'firing',
    'state.renotified': 'still firing',
    'state.resolved': 'resolved',
    'cdrs.heading': 'Calls (CDR search)',
    'cdrs.status': 'Status',
    'cdrs.anyStatus': 'Any status',
    'cdrs.target': 'Target',
    'cdrs.search': 'Search',
    'cdrs.csv': 'Download CSV',
    'cdrs.csvFailed': 'The CSV could not be downloaded (HTTP {status}).',
    'cdrs.previous': 'Previous',
    'cdrs.next': 'Next',
    'cdrs.page': 'Page {page}',
    'cdrs.started': 'Started',
    'cdrs.did': 'Number',
    'cdrs.caller': 'Caller',
    'cdrs.duration': 'Duration',
    'cdrs.dial': 'Dial',
    'cdrs.cause': 'Cause',
    'cdrs.empty': 'No calls match.',
    'footer': 'ivrhub · figures from the REST API',
    // </en>
  },
  he: {
    // <he>
    'title': 'מסוף ivrhub',
    'logout': 'התנתקות',
    'lang.other': 'English',
    'login.heading': 'כניסה',
    'login.email': 'דוא״ל',
    'login.password': 'סיסמה',
    'login.submit': 'כניסה',
    'login.failed': 'דוא״ל או סיסמה שגויים.',
    'login.throttled': 'יותר מדי ניסיונות: נסו שוב בעוד {seconds} שניות.',
    'login.expired': 'פג תוקף החיבור. נא להיכנס שוב.',
    'login.loggedOut': 'התנתקת.',
    'login.unreachable': 'אין חיבור לשרת. נסו שוב.',
    'controls.tenant': 'לקוח',
    'controls.did': 'מספר',
    'controls.allDids': 'כל המספרים',
    'controls.range': 'טווח',
    'controls.from': 'מתאריך',
    'controls.to': 'עד תאריך (כולל)',
    'controls.apply': 'הצג',
    'controls.noTenant': 'אין עדיין לקוחות.',
    'range.today': 'היום',
    'range.yesterday': 'אתמול',
    'range.last7': '7 הימים האחרונים',
    'range.custom': 'תאריכים לבחירה',
    'range.line': '{tenant}: {from} – {to} ({zone}); בהשוואה ל־{previousFrom} – {previousTo}',
    'range.invalid': 'יש לבחור תאריך התחלה ותאריך סיום שאינו לפניו.',
    'loading': 'טוען…',
    'failed': 'לא ניתן לטעון חלק זה (HTTP {status}).',
    'empty': 'אין שיחות בטווח הזה.',
    'kpi.calls': 'שיחות',
    'kpi.asr': 'אחוז מענה (ASR)',
    'kpi.acd': 'משך שיחה ממוצע (ACD)',
    'kpi.p95': 'זמן חיוג, אחוזון 95',
    'kpi.previous': 'תקופה קודמת: {value}',
    'series.hourly': 'שיחות לפי שעה',
    'series.daily': 'שיחות לפי יום',
    'series.answered': 'נענו',
    'series.bar': '{when}: {calls} שיחות, {answered} נענו',
    'statuses.heading': 'שיחות לפי סטטוס',
    'causes.heading': 'שיחות לפי סיבת ניתוק',
    'causes.none': 'ללא סיבה',
    'funnel.heading': 'משפך התפריטים',
    'funnel.version': 'שיחות שעברו בגרסה החיה {version}.',
    'funnel.anyVersion': 'לא פורסמה גרסה: צעדים מכל הגרסאות.',
    'funnel.node': 'תפריט',
    'funnel.reached': 'הגיעו',
    'funnel.pressed': 'הקישו',
    'funnel.timeouts': 'ללא הקשה',
    'funnel.invalid': 'הקשה שגויה',
    'funnel.ended': 'יצאו כאן',
    'funnel.hungUp': 'נותקו על ידי המערכת',
    'funnel.empty': 'אין צעדי שיחה בטווח הזה.',
    'flow.heading': 'התסריט החי',
    'flow.show': 'הצגת התרשים',
    'flow.hide': 'הסתרת התרשים',
    'flow.none': 'עדיין לא פורסם דבר.',
    'flow.busy': 'תרשים אחר משורטט כעת: נסו שוב בעוד רגע.',
    'flow.tooBig': 'התסריט גדול מכדי לשרטט אותו כאן.',
    'flow.zoom': 'לחיצה על התרשים מציגה אותו בגודלו המלא, ולחיצה נוספת מתאימה אותו לרוחב.',
    'versions.heading': 'היסטוריית גרסאות',
    'versions.version': 'גרסה',
    'versions.published': 'פורסמה',
    'versions.author': 'על ידי',
    'versions.message': 'הודעה',
    'versions.live': 'חיה',
    'versions.empty': 'אין עדיין גרסאות.',
    'alerts.heading': 'אירועי התראה',
    'alerts.none': 'אין אירועי התראה.',
    'alerts.at': 'זמן',
    'alerts.rule': 'כלל',
    'alerts.metric': 'מדד',
    'alerts.state': 'מצב',
    'alerts.value': 'ערך',
    'alerts.threshold': 'סף',
    'alerts.calls': 'שיחות',
    'alerts.window': 'חלון',
    'alerts.minutes': '{minutes} דק׳',
    'state.firing': 'פעילה',
    'state.renotified': 'עדיין פעילה',
    'state.resolved': 'נפתרה',
    'cdrs.heading': 'שיחות (חיפוש רשומות)',
    'cdrs.status': 'סטטוס',
    'cdrs.anyStatus': 'כל הסטטוסים',
    'cdrs.target': 'יעד',
    'cdrs.search': 'חיפוש',
    'cdrs.csv': 'הורדת CSV',
    'cdrs.csvFailed': 'לא ניתן להוריד את קובץ ה־CSV (HTTP {status}).',
    'cdrs.previous': 'הקודם',
    'cdrs.next': 'הבא',
    'cdrs.page': 'עמוד {page}',
    'cdrs.started': 'התחלה',
    'cdrs.did': 'מספר',
    'cdrs.caller': 'מתקשר',
    'cdrs.duration': 'משך',
    'cdrs.dial': 'חיוג',
    'cdrs.cause': 'סיבה',
    'cdrs.empty': 'אין שיחות מתאימות.',
    'footer': 'ivrhub · כל הנתונים מממשק ה־API',
    // </he>
  },
};

const LOCALES = { en: 'en-US', he: 'he-IL' };
const SESSION_KEY = 'ivrhub.console.session';
const LANGUAGE_KEY = 'ivrhub.console.language';
const CDR_PAGE = 20;

const state = {
  language: 'en',
  /** {access, refresh, expiresAt (ms)} or null. */
  session: null,
  me: null,
  tenants: [],
  /** The tenant shown: {tenant_id, name, time_zone}. */
  tenant: null,
  /** Bumped by every new load, tenant switch and logout: older answers are dropped. */
  generation: 0,
  /** What the current load answered, per section: {loading} | {value} | {error}. */
  data: {},
  /** Per section, the latest load asked for: an earlier one answering late is dropped. */
  tickets: {},
  range: null,
  cdrCursors: [null],
  refreshTimer: null,
  diagramShown: false,
};

class Unauthorized extends Error {}

class ApiFailure extends Error {
  constructor(status, body) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

const $ = (id) => document.getElementById(id);

/** The string `key` in the current language, with `{name}`s filled in. */
function t(key, values = {}) {
  const text = STRINGS[state.language][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** An element with attributes and children (strings become text). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') element.className = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// ---- numbers and dates, per language --------------------------------------

const locale = () => LOCALES[state.language];

const format = {
  count: (n) => new Intl.NumberFormat(locale()).format(n),
  share: (x) => (x === null || x === undefined)
    ? '—'
    : new Intl.NumberFormat(locale(), { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(x),
  seconds: (x) => (x === null || x === undefined)
    ? '—'
    : new Intl.NumberFormat(locale(), {
      style: 'unit', unit: 'second', unitDisplay: 'short', minimumFractionDigits: 1, maximumFractionDigits: 1,
    }).format(x),
  number: (x) => (x === null || x === undefined)
    ? '—'
    : new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(x),
  /** An instant, on the tenant's clock. */
  instant: (text) => new Intl.DateTimeFormat(locale(), {
    timeZone: state.tenant?.time_zone || 'UTC', dateStyle: 'short', timeStyle: 'short',
  }).format(new Date(text)),
  /** A plain date (YYYY-MM-DD). */
  date: (iso) => new Intl.DateTimeFormat(locale(), { timeZone: 'UTC', dateStyle: 'medium' })
    .format(new Date(`${iso}T00:00:00Z`)),
};

/** Today's date (YYYY-MM-DD) on the clock of `zone`. */
function todayIn(zone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit',
  }).formatToParts(new Date());
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part('year')}-${part('month')}-${part('day')}`;
}

function addDays(iso, days) {
  const date = new Date(`${iso}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

const daysBetween = (from, to) => Math.round((Date.parse(to) - Date.parse(from)) / 86400000);

/** The range picked: local dates, `to` exclusive (as the API reads them); null when invalid. */
function pickedRange() {
  const today = todayIn(state.tenant.time_zone);
  switch ($('range').value) {
    case 'today': return { from: today, to: addDays(today, 1) };
    case 'yesterday': return { from: addDays(today, -1), to: today };
    case 'last7': return { from: addDays(today, -6), to: addDays(today, 1) };
    default: {
      const from = $('from').value;
      const last = $('to').value;
      if (!from || !last || last < from) return null;
      return { from, to: addDays(last, 1) };
    }
  }
}

// ---- the API -----------------------------------------------------------------

const isPlatformAdmin = () => state.me?.role === 'platform_admin';

/**
 * GET /api/v1`path` with the bearer token. Platform admins' requests name
 * the tenant shown (`tenant_id`) unless `tenant: false`. A 401 ends the
 * session (and throws Unauthorized); another failure throws ApiFailure.
 */
async function api(path, params = {}, options = {}) {
  if (!state.session) throw new Unauthorized();
  const url = new URL(`/api/v1${path}`, window.location.origin);
  if (options.tenant !== false && isPlatformAdmin() && state.tenant) {
    url.searchParams.set('tenant_id', state.tenant.tenant_id);
  }
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(name, value);
  }
  const response = await fetch(url, {
    headers: { Authorization: `Bearer ${state.session.access}` },
    cache: 'no-store',
    credentials: 'omit',
  });
  if (response.status === 401) {
    endSession('login.expired');
    throw new Unauthorized();
  }
  if (!response.ok) {
    let body = null;
    try { body = await response.json(); } catch { /* not JSON */ }
    throw new ApiFailure(response.status, body);
  }
  if (options.as === 'text') return response.text();
  if (options.as === 'response') return response;
  return response.json();
}

async function postJson(path, body) {
  return fetch(`/api/v1${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  });
}

// ---- the session -------------------------------------------------------------

function saveSession(pair) {
  state.session = {
    access: pair.access_token,
    refresh: pair.refresh_token,
    expiresAt: Date.now() + pair.expires_in * 1000,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
  scheduleRefresh();
}

/** Trades the refresh token for a new pair a minute before the access token expires. */
function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  if (!state.session) return;
  const wait = Math.max(5000, state.session.expiresAt - Date.now() - 60000);
  state.refreshTimer = setTimeout(refreshSession, wait);
}

async function refreshSession() {
  if (!state.session) return;
  try {
    const response = await postJson('/auth/refresh', { refresh_token: state.session.refresh });
    if (!response.ok) throw new ApiFailure(response.status, null);
    saveSession(await response.json());
  } catch {
    endSession('login.expired');
  }
}

/** Forgets the token and everything shown; back to the login form with `messageKey`. */
function endSession(messageKey) {
  if (!state.session && !state.me) return;
  clearTimeout(state.refreshTimer);
  sessionStorage.removeItem(SESSION_KEY);
  Object.assign(state, { session: null, me: null, tenants: [], tenant: null, range: null });
  clearData();
  $('tenant').replaceChildren();
  $('did').replaceChildren();
  showLogin(messageKey);
}

function showLogin(messageKey) {
  $('app-view').hidden = true;
  $('logout').hidden = true;
  $('who').hidden = true;
  $('login-view').hidden = false;
  const message = $('login-message');
  message.hidden = !messageKey;
  message.dataset.key = messageKey || '';
  message.textContent = messageKey ? t(messageKey) : '';
  $('login-password').value = '';
  document.body.dataset.view = 'login';
}

function showApp() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('logout').hidden = false;
  document.body.dataset.view = 'app';
}

async function logIn(event) {
  event.preventDefault();
  const message = $('login-message');
  const show = (text) => { message.textContent = text; message.hidden = false; };
  $('login-submit').disabled = true;
  try {
    const response = await postJson('/auth/login', {
      email: $('login-email').value.trim(),
      password: $('login-password').value,
    });
    if (response.status === 429) {
      show(t('login.throttled', { seconds: response.headers.get('Retry-After') || '?' }));
    } else if (!response.ok) {
      show(t('login.failed'));
    } else {
      saveSession(await response.json());
      $('login-password').value = '';
      message.hidden = true;
      await start();
    }
  } catch {
    show(t('login.unreachable'));
  } finally {
    $('login-submit').disabled = false;
  }
}

async function logOut() {
  const refresh = state.session?.refresh;
  endSession('login.loggedOut');
  if (refresh) {
    try { await postJson('/auth/logout', { refresh_token: refresh }); } catch { /* gone anyway */ }
  }
}

/** After a login (or a reload with a session): who am I, which tenants, then the figures. */
async function start() {
  showApp();
  try {
    state.me = await api('/me', {}, { tenant: false });
    const who = $('who');
    who.textContent = state.me.email;
    who.hidden = false;
    if (isPlatformAdmin()) {
      const page = await api('/tenants', { limit: 200 }, { tenant: false });
      state.tenants = page.items;
      $('tenant').replaceChildren(...state.tenants.map((tenant) => h('option', { value: tenant.tenant_id }, `${tenant.name} (#${tenant.tenant_id})`)));
      $('tenant-field').hidden = false;
      if (state.tenants.length === 0) {
        $('range-line').textContent = t('controls.noTenant');
        return;
      }
      state.tenant = state.tenants[0];
    } else {
      $('tenant-field').hidden = true;
      state.tenant = await api(`/tenants/${state.me.tenant_id}`, {}, { tenant: false });
    }
    await showTenant();
  } catch (error) {
    if (!(error instanceof Unauthorized)) $('range-line').textContent = t('failed', { status: error.status ?? '?' });
  }
}

// ---- loading -------------------------------------------------------------------

const SECTIONS = ['summary', 'series', 'statuses', 'causes', 'funnel', 'versions', 'alerts', 'cdrs', 'diagram'];

/** Empties every section: nothing of the previous tenant or session stays on the page. */
function clearData() {
  state.generation += 1;
  state.data = {};
  state.cdrCursors = [null];
  state.diagramShown = false;
  $('app-view').dataset.ready = 'false';
  $('app-view').dataset.loaded = '';
  $('range-line').textContent = '';
  $('cdr-status').replaceChildren(h('option', { value: '', 'data-i18n': 'cdrs.anyStatus' }, t('cdrs.anyStatus')));
  $('cdr-target').value = '';
  for (const name of SECTIONS) render(name);
}

/** A new tenant: its numbers, the default range, then everything. */
async function showTenant() {
  clearData();
  const generation = state.generation;
  const tenant = state.tenant;
  $('did').replaceChildren();
  let dids;
  try {
    dids = await api('/dids', { limit: 200 });
  } catch (error) {
    if (!(error instanceof Unauthorized) && tenant === state.tenant) {
      $('range-line').textContent = t('failed', { status: error.status ?? '?' });
    }
    return;
  }
  if (tenant !== state.tenant) return;
  $('did').replaceChildren(
    h('option', { value: '', 'data-i18n': 'controls.allDids' }, t('controls.allDids')),
    ...dids.items.map((did) => h('option', { value: did.did }, did.did)),
  );
  if (!$('from').value) {
    const today = todayIn(state.tenant.time_zone);
    $('from').value = today;
    $('to').value = today;
  }
  // Unless a load for this tenant has begun meanwhile (the range was picked).
  if (generation === state.generation) await loadAll();
}

/** Runs `fetcher` for section `name` and renders it, unless a newer load has begun meanwhile. */
async function load(name, fetcher) {
  const generation = state.generation;
  state.tickets[name] = (state.tickets[name] || 0) + 1;
  const ticket = state.tickets[name];
  state.data[name] = { loading: true };
  render(name);
  let entry;
  try {
    entry = { value: await fetcher() };
  } catch (error) {
    if (error instanceof Unauthorized) return;
    entry = { error };
  }
  if (generation !== state.generation || ticket !== state.tickets[name]) return;
  state.data[name] = entry;
  render(name);
}

/** Loads every section for the range and number picked. */
async function loadAll() {
  const range = pickedRange();
  if (!range) {
    $('range-line').textContent = t('range.invalid');
    return;
  }
  state.generation += 1;
  const generation = state.generation;
  const keep = state.diagramShown;
  state.data = { diagram: state.data.diagram };
  state.range = range;
  state.cdrCursors = [null];
  $('app-view').dataset.ready = 'false';
  renderRangeLine();
  const filter = { from: range.from, to: range.to, did: $('did').value };
  const bucket = daysBetween(range.from, range.to) <= 2 ? 'hour' : 'day';
  const versions = api('/flow/versions', { limit: 10 });
  versions.catch(() => { /* shown by both sections that wait for it */ });
  const loads = [
    load('summary', () => api('/reports/summary', { ...filter, compare: 'previous' })),
    load('series', () => api('/reports/series', { ...filter, bucket })),
    load('statuses', () => api('/reports/by-status', filter)),
    load('causes', () => api('/reports/by-cause', filter)),
    load('versions', () => versions),
    // The funnel of the live version: how callers move through what they hear now.
    load('funnel', async () => {
      const live = (await versions).items.find((version) => version.live)?.version ?? null;
      return { live, report: await api('/reports/funnel', { ...filter, version: live }) };
    }),
    load('alerts', loadAlerts),
    load('cdrs', () => fetchCdrs()),
  ];
  if (keep && !state.data.diagram?.value) loads.push(load('diagram', fetchDiagram));
  await Promise.all(loads);
  if (generation === state.generation) {
    $('app-view').dataset.loaded = `${state.tenant.tenant_id}:${range.from}/${range.to}`;
    $('app-view').dataset.ready = 'true';
  }
}

/** The alert events; a server without them (404) has none to show. */
async function loadAlerts() {
  try {
    return await api('/alerts/events', { limit: 20 });
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 404) return { items: [] };
    throw error;
  }
}

function cdrParams() {
  return {
    from: state.range.from,
    to: state.range.to,
    did: $('did').value,
    status: $('cdr-status').value,
    target: $('cdr-target').value.trim(),
  };
}

function fetchCdrs() {
  const cursor = state.cdrCursors[state.cdrCursors.length - 1];
  return api('/reports/cdrs', { ...cdrParams(), limit: CDR_PAGE, cursor });
}

async function fetchDiagram() {
  try {
    return { svg: await api('/flow/diagram.svg', { flow: 'live' }, { as: 'text' }) };
  } catch (error) {
    if (!(error instanceof ApiFailure)) throw error;
    const known = { 404: 'flow.none', 422: 'flow.tooBig', 503: 'flow.busy' }[error.status];
    if (known) return { message: known };
    throw error;
  }
}

async function downloadCsv() {
  if (!state.range) return;
  const button = $('cdr-csv');
  button.disabled = true;
  try {
    const response = await api('/reports/cdrs.csv', cdrParams(), { as: 'response' });
    const blob = await response.blob();
    const disposition = response.headers.get('Content-Disposition') || '';
    const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || `cdrs-${state.range.from}.csv`;
    const link = h('a', { href: URL.createObjectURL(blob), download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  } catch (error) {
    if (!(error instanceof Unauthorized)) {
      $('cdrs').prepend(h('p', { class: 'notice' }, t('cdrs.csvFailed', { status: error.status ?? '?' })));
    }
  } finally {
    button.disabled = false;
  }
}

// ---- rendering -----------------------------------------------------------------

const RENDERERS = {
  summary: renderSummary,
  series: renderSeries,
  statuses: renderStatuses,
  causes: renderCauses,
  funnel: renderFunnel,
  versions: renderVersions,
  alerts: renderAlerts,
  cdrs: renderCdrs,
  diagram: renderDiagram,
};

/** Draws section `name`; a section that fails to draw says so and leaves the others alone. */
function render(name) {
  try {
    RENDERERS[name](state.data[name]);
  } catch (error) {
    console.error(name, error);
    state.data[name] = { error: { status: 'JS' } };
    RENDERERS[name](state.data[name]);
  }
}

/** Shows loading / failure in `element`; true when the entry has no value to draw. */
function placeholder(element, entry) {
  if (!entry) {
    element.replaceChildren();
    return true;
  }
  if (entry.loading) {
    element.replaceChildren(h('p', { class: 'muted' }, t('loading')));
    return true;
  }
  if (entry.error) {
    element.replaceChildren(h('p', { class: 'notice' }, t('failed', { status: entry.error.status ?? '?' })));
    return true;
  }
  return false;
}

function renderRangeLine() {
  const range = state.range;
  if (!range || !state.tenant) return;
  const days = daysBetween(range.from, range.to);
  // Each value isolated (FSI … PDI): a Latin name or zone inside Hebrew keeps its place.
  const isolate = (text) => `\u2068${text}\u2069`;
  $('range-line').textContent = t('range.line', {
    tenant: isolate(state.tenant.name),
    from: isolate(format.date(range.from)),
    to: isolate(format.date(addDays(range.to, -1))),
    zone: isolate(state.tenant.time_zone),
    previousFrom: isolate(format.date(addDays(range.from, -days))),
    previousTo: isolate(format.date(addDays(range.from, -1))),
  });
}

const KPIS = [
  { name: 'calls', figure: (f) => f.calls, show: (x) => format.count(x) },
  { name: 'asr', figure: (f) => f.asr, show: (x) => format.share(x) },
  { name: 'acd', figure: (f) => f.acd_secs, show: (x) => format.seconds(x) },
  { name: 'p95', figure: (f) => f.p95_dial_secs, show: (x) => format.seconds(x) },
];

function renderSummary(entry) {
  for (const kpi of KPIS) {
    const card = $(`kpi-${kpi.name}`);
    const value = card.querySelector('.kpi-value');
    const previous = card.querySelector('.kpi-previous');
    previous.className = 'kpi-previous';
    if (!entry?.value) {
      value.textContent = entry?.loading ? '…' : '–';
      previous.textContent = entry?.error ? t('failed', { status: entry.error.status ?? '?' }) : '';
      continue;
    }
    const now = kpi.figure(entry.value.figures);
    const before = entry.value.previous ? kpi.figure(entry.value.previous.figures) : null;
    value.textContent = kpi.show(now);
    previous.textContent = t('kpi.previous', { value: kpi.show(before) });
    if (now !== null && before !== null && now !== before) {
      previous.classList.add(now > before ? 'up' : 'down');
    }
  }
}

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

/** A round upper bound for the axis: 1, 2, 5 × 10ⁿ. */
function niceMax(max) {
  if (max <= 4) return Math.max(1, max);
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 2.5, 5, 10].map((step) => step * power).find((bound) => bound >= max);
}

/** Calls per bucket as bars (answered darker), time running left to right in both languages. */
function renderSeries(entry) {
  const element = $('series');
  const hourly = entry?.value ? entry.value.figures.bucket === 'hour' : true;
  $('series-heading').textContent = t(hourly ? 'series.hourly' : 'series.daily');
  if (placeholder(element, entry)) return;
  const points = entry.value.figures.points;
  const width = Math.max(280, element.clientWidth || 600);
  const height = width < 500 ? 180 : 220;
  const margin = { top: 12, right: 8, bottom: 30, left: 34 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const top = niceMax(Math.max(0, ...points.map((p) => p.calls)));
  const y = (value) => margin.top + plotHeight - (value / top) * plotHeight;
  const slot = plotWidth / Math.max(1, points.length);
  const chart = svg('svg', {
    width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'series-chart',
    'aria-label': t(hourly ? 'series.hourly' : 'series.daily'),
  });
  for (const tick of [0, top / 2, top]) {
    if (tick !== Math.round(tick) && tick !== 0) continue;
    chart.append(
      svg('line', { x1: margin.left, x2: width - margin.right, y1: y(tick), y2: y(tick), class: 'grid' }),
      svg('text', { x: margin.left - 6, y: y(tick) + 4, 'text-anchor': 'end', class: 'axis' }, format.count(tick)),
    );
  }
  const labelEvery = Math.ceil(points.length / Math.max(2, Math.floor(plotWidth / 44)));
  points.forEach((point, index) => {
    const x = margin.left + index * slot;
    const barWidth = Math.max(1, slot * 0.72);
    const offset = (slot - barWidth) / 2;
    const when = hourly
      ? (point.start.slice(11, 13) === '00' && points.length > 24 ? point.start.slice(8, 10) + '/' + point.start.slice(5, 7) : point.start.slice(11, 16))
      : point.start.slice(8, 10) + '/' + point.start.slice(5, 7);
    const bar = svg('g', { class: 'bar', 'data-start': point.start, 'data-calls': point.calls });
    bar.append(
      svg('title', {}, t('series.bar', { when, calls: format.count(point.calls), answered: format.count(point.answered) })),
      svg('rect', { x: x + offset, y: y(point.calls), width: barWidth, height: Math.max(0, y(0) - y(point.calls)), class: 'calls' }),
      svg('rect', { x: x + offset, y: y(point.answered), width: barWidth, height: Math.max(0, y(0) - y(point.answered)), class: 'answered' }),
    );
    chart.append(bar);
    if (index % labelEvery === 0) {
      chart.append(svg('text', { x: x + slot / 2, y: height - margin.bottom + 16, 'text-anchor': 'middle', class: 'axis' }, when));
    }
  });
  chart.append(svg('line', { x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0), class: 'baseline' }));
  const legend = h('p', { class: 'legend', dir: state.language === 'he' ? 'rtl' : 'ltr' },
    h('span', { class: 'swatch calls' }), t('kpi.calls'), ' ',
    h('span', { class: 'swatch answered' }), t('series.answered'));
  element.replaceChildren(chart, legend);
}

/** Horizontal bars: label, bar (share of all calls), count, share. */
function bars(element, rows) {
  if (rows.length === 0) {
    element.replaceChildren(h('p', { class: 'muted' }, t('empty')));
    return;
  }
  element.replaceChildren(...rows.map((row) => {
    const fill = h('span', { class: 'bar-fill' });
    fill.style.width = `${Math.max(0.5, row.share * 100)}%`;
    return h('div', { class: 'bar-row', 'data-key': row.key, title: row.title || null },
      h('span', { class: 'bar-label' }, row.label),
      h('span', { class: 'bar-track' }, fill),
      h('span', { class: 'bar-value' }, format.count(row.calls)),
      h('span', { class: 'bar-share' }, format.share(row.share)));
  }));
}

function renderStatuses(entry) {
  const element = $('statuses');
  if (placeholder(element, entry)) return;
  const rows = entry.value.figures;
  bars(element, rows.map((row) => ({ key: row.status, label: row.status, calls: row.calls, share: row.share })));
  // The CDR search offers the statuses of the range.
  const select = $('cdr-status');
  const chosen = select.value;
  select.replaceChildren(h('option', { value: '', 'data-i18n': 'cdrs.anyStatus' }, t('cdrs.anyStatus')),
    ...rows.map((row) => h('option', { value: row.status }, row.status)));
  select.value = rows.some((row) => row.status === chosen) ? chosen : '';
}

function renderCauses(entry) {
  const element = $('causes');
  if (placeholder(element, entry)) return;
  bars(element, entry.value.figures.map((row) => {
    const meaning = row.meanings[0]?.description;
    const label = row.cause === null ? t('causes.none') : `${row.cause}${meaning ? ` · ${meaning}` : ''}`;
    return {
      key: String(row.cause),
      label,
      title: row.statuses.map((s) => `${s.status}: ${format.count(s.calls)}`).join(', '),
      calls: row.calls,
      share: row.share,
    };
  }));
}

/** A table with a header row; `cells` gives each row's cells (strings or elements). */
function table(headings, rows, cells, rowAttributes = () => ({})) {
  return h('table', {},
    h('thead', {}, h('tr', {}, headings.map((key) => h('th', { scope: 'col' }, t(key))))),
    h('tbody', {}, rows.map((row) => h('tr', rowAttributes(row),
      // The label shows beside the value where a phone lays rows out as cards.
      cells(row).map((cell, index) => h('td', { 'data-label': t(headings[index]) }, cell))))));
}

function renderFunnel(entry) {
  const element = $('funnel');
  const note = $('funnel-version');
  note.textContent = '';
  if (placeholder(element, entry)) return;
  const { live, report } = entry.value;
  note.textContent = live === null ? t('funnel.anyVersion') : t('funnel.version', { version: live });
  const nodes = report.figures.nodes;
  if (nodes.length === 0) {
    element.replaceChildren(h('p', { class: 'muted' }, t('funnel.empty')));
    return;
  }
  element.replaceChildren(table(
    ['funnel.node', 'funnel.reached', 'funnel.pressed', 'funnel.timeouts', 'funnel.invalid', 'funnel.ended', 'funnel.hungUp'],
    nodes,
    (node) => [
      h('code', {}, node.node),
      format.count(node.reached),
      node.pressed.length
        ? h('bdi', { dir: 'ltr' }, node.pressed.map((p) => `${p.digits} × ${format.count(p.steps)}`).join(', '))
        : '—',
      format.count(node.timeouts.total),
      format.count(node.invalid.total),
      format.count(node.ended),
      format.count(node.hung_up_by_ivr),
    ],
    (node) => ({ 'data-node': node.node }),
  ));
}

function renderVersions(entry) {
  const element = $('versions');
  if (placeholder(element, entry)) return;
  const items = entry.value.items;
  if (items.length === 0) {
    element.replaceChildren(h('p', { class: 'muted' }, t('versions.empty')));
    return;
  }
  element.replaceChildren(table(
    ['versions.version', 'versions.published', 'versions.author', 'versions.message'],
    items,
    (version) => [
      h('span', {}, format.count(version.version), version.live ? h('span', { class: 'badge live' }, t('versions.live')) : null),
      format.instant(version.created_at),
      version.author?.email ?? '—',
      version.message,
    ],
  ));
}

/** An alert's figure, in the figure's own unit. */
function alertFigure(metric, value) {
  if (value === null || value === undefined) return '—';
  if (metric === 'asr' || /share/.test(metric)) return format.share(value);
  if (/acd|dial/.test(metric)) return format.seconds(value);
  return format.number(value);
}

function renderAlerts(entry) {
  const element = $('alerts');
  if (placeholder(element, entry)) return;
  const items = entry.value.items || [];
  if (items.length === 0) {
    element.replaceChildren(h('p', { class: 'muted' }, t('alerts.none')));
    return;
  }
  element.replaceChildren(table(
    ['alerts.at', 'alerts.rule', 'alerts.metric', 'alerts.state', 'alerts.value', 'alerts.threshold', 'alerts.calls', 'alerts.window'],
    items,
    (event) => [
      format.instant(event.at),
      event.rule_name ?? `#${event.rule_id}`,
      h('code', {}, event.metric),
      h('span', { class: `badge state-${event.state}` }, STRINGS.en[`state.${event.state}`] ? t(`state.${event.state}`) : event.state),
      alertFigure(event.metric, event.value),
      alertFigure(event.metric, event.threshold),
      event.calls === undefined ? '—' : format.count(event.calls),
      event.window_minutes ? t('alerts.minutes', { minutes: format.count(event.window_minutes) }) : '—',
    ],
    (event) => ({ 'data-state': event.state }),
  ));
}

function renderCdrs(entry) {
  const element = $('cdrs');
  const page = state.cdrCursors.length;
  $('cdr-page').textContent = entry?.value ? t('cdrs.page', { page: format.count(page) }) : '';
  $('cdr-prev').disabled = !entry?.value || page <= 1;
  $('cdr-next').disabled = !entry?.value?.next_cursor;
  if (placeholder(element, entry)) return;
  const items = entry.value.items;
  if (items.length === 0) {
    element.replaceChildren(h('p', { class: 'muted' }, t('cdrs.empty')));
    return;
  }
  const ltr = (text) => h('bdi', { dir: 'ltr' }, text || '—');
  element.replaceChildren(table(
    ['cdrs.started', 'cdrs.did', 'cdrs.caller', 'cdrs.target', 'cdrs.status', 'cdrs.cause', 'cdrs.duration', 'cdrs.dial'],
    items,
    (cdr) => [
      format.instant(cdr.started_at),
      ltr(cdr.did),
      ltr(cdr.caller_id),
      ltr(cdr.target),
      h('span', { class: 'status', 'data-status': cdr.status }, cdr.status),
      cdr.cause === null ? '—' : String(cdr.cause),
      cdr.duration_secs === null ? '—' : format.count(cdr.duration_secs),
      cdr.dial_secs === null ? '—' : format.count(cdr.dial_secs),
    ],
    (cdr) => ({ 'data-call-id': cdr.call_id }),
  ));
}

/** The server's SVG, imported without anything that could run. */
function safeSvg(text) {
  // The layout's <style> sets font sizes by class (`.a14 { font-size: 14px }`):
  // inline style, which the page's policy refuses even while parsing. It is
  // taken out before, and its sizes become attributes after.
  const sizes = [];
  const withoutStyle = text.replace(/<style[^>]*>([\s\S]*?)<\/style>/gi, (_, rules) => {
    for (const [, name, size] of rules.matchAll(/\.([\w-]+)\s*\{[^}]*font-size:\s*([\d.]+)px/g)) sizes.push([name, size]);
    return '';
  });
  const parsed = new DOMParser().parseFromString(withoutStyle, 'image/svg+xml');
  const root = parsed.documentElement;
  if (root.nodeName !== 'svg' || parsed.getElementsByTagName('parsererror').length) return null;
  for (const dangerous of root.querySelectorAll('script, foreignObject, iframe, object, embed, style')) dangerous.remove();
  for (const [name, size] of sizes) {
    for (const element of root.getElementsByClassName(name)) element.setAttribute('font-size', size);
  }
  for (const element of [root, ...root.querySelectorAll('*')]) {
    for (const attribute of [...element.attributes]) {
      if (/^on/i.test(attribute.name) || /^\s*javascript:/i.test(attribute.value) || attribute.name === 'style') {
        element.removeAttribute(attribute.name);
      }
    }
  }
  return document.importNode(root, true);
}

function renderDiagram(entry) {
  const element = $('diagram');
  const button = $('show-diagram');
  button.textContent = t(state.diagramShown ? 'flow.hide' : 'flow.show');
  element.hidden = !state.diagramShown;
  if (placeholder(element, entry)) return;
  if (entry.value.message) {
    element.replaceChildren(h('p', { class: 'muted' }, t(entry.value.message)));
    return;
  }
  const picture = safeSvg(entry.value.svg);
  if (!picture) {
    element.replaceChildren(h('p', { class: 'notice' }, t('failed', { status: 200 })));
    return;
  }
  // Fitted to the width; a click shows it at its own size (scrolling) and back.
  element.replaceChildren(h('p', { class: 'muted hint' }, t('flow.zoom')), picture);
}

function toggleDiagramSize(event) {
  if (event.target.closest('svg')) $('diagram').classList.toggle('natural');
}

// ---- language ------------------------------------------------------------------

function setLanguage(language) {
  state.language = STRINGS[language] ? language : 'en';
  localStorage.setItem(LANGUAGE_KEY, state.language);
  const root = document.documentElement;
  root.lang = state.language;
  root.dir = state.language === 'he' ? 'rtl' : 'ltr';
  document.title = t('title');
  for (const element of document.querySelectorAll('[data-i18n]')) {
    element.textContent = t(element.dataset.i18n);
  }
  const other = state.language === 'he' ? 'en' : 'he';
  const switcher = $('lang-switch');
  switcher.textContent = t('lang.other');
  switcher.lang = other;
  switcher.dataset.language = other;
  const message = $('login-message');
  if (message.dataset.key) message.textContent = t(message.dataset.key);
  renderRangeLine();
  for (const name of SECTIONS) render(name);
}

// ---- wiring --------------------------------------------------------------------

function wire() {
  $('login-form').addEventListener('submit', logIn);
  $('logout').addEventListener('click', logOut);
  $('lang-switch').addEventListener('click', () => setLanguage($('lang-switch').dataset.language));
  $('controls').addEventListener('submit', (event) => {
    event.preventDefault();
    loadAll();
  });
  $('tenant').addEventListener('change', () => {
    state.tenant = state.tenants.find((tenant) => String(tenant.tenant_id) === $('tenant').value) || null;
    if (state.tenant) showTenant();
  });
  $('did').addEventListener('change', () => loadAll());
  $('range').addEventListener('change', () => {
    const custom = $('range').value === 'custom';
    for (const field of document.querySelectorAll('.custom-date')) field.hidden = !custom;
    if (!custom) loadAll();
  });
  $('show-diagram').addEventListener('click', () => {
    state.diagramShown = !state.diagramShown;
    if (state.diagramShown && !state.data.diagram?.value) load('diagram', fetchDiagram);
    else render('diagram');
  });
  $('cdr-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (!state.range) return;
    state.cdrCursors = [null];
    load('cdrs', fetchCdrs);
  });
  $('cdr-next').addEventListener('click', () => {
    const next = state.data.cdrs?.value?.next_cursor;
    if (!next) return;
    state.cdrCursors.push(next);
    load('cdrs', fetchCdrs);
  });
  $('cdr-prev').addEventListener('click', () => {
    if (state.cdrCursors.length <= 1) return;
    state.cdrCursors.pop();
    load('cdrs', fetchCdrs);
  });
  $('cdr-csv').addEventListener('click', downloadCsv);
  $('diagram').addEventListener('click', toggleDiagramSize);
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => render('series'), 150);
  });
}

function init() {
  wire();
  const saved = localStorage.getItem(LANGUAGE_KEY);
  setLanguage(saved || ((navigator.language || '').startsWith('he') ? 'he' : 'en'));
  let session = null;
  try { session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null'); } catch { /* unreadable: none */ }
  if (session && session.access) {
    state.session = session;
    scheduleRefresh();
    start();
  } else {
    showLogin(null);
  }
}

init();
