// The Broker Integration page. It talks to brokerd's /v1 API with the user's bearer token, which
// lives in this module's memory only: never in storage, the URL or the console. Every piece of
// server data reaches the DOM through textContent, never as HTML.

const DEMO_USERS = ['alice', 'bob', 'carol'];
const RUNS_SHOWN = 5;
const DEMO_USER_NAME = /^[a-z0-9_-]{1,32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const BROKER_NAMES = { angel_one: 'Angel One', zerodha: 'Zerodha' };

/** Account status: label and tone of its badge. */
const STATUSES = {
  pending: ['Not verified yet', 'neutral'],
  active: ['Connected', 'ok'],
  needs_login: ['Kite login needed', 'warn'],
  disabled: ['Disabled', 'neutral'],
  ip_not_whitelisted: ['IP not registered', 'bad'],
  invalid_credentials: ['Credentials refused', 'bad'],
  invalid_totp: ['TOTP refused', 'bad'],
  broker_unreachable: ['Broker unreachable', 'warn'],
};

/** Execution state: what it means for the order, and its tone. */
const EXECUTION_STATES = {
  submitting: ['Being sent', 'neutral'],
  placed: ['Placed with the broker', 'ok'],
  rejected: ['Rejected by the broker', 'bad'],
  refused: ['Not sent: refused before sending', 'bad'],
  needs_login: ['Not sent: Kite login needed', 'warn'],
  failed: ['Not sent', 'bad'],
  unknown: ['Unknown: being checked with the broker', 'warn'],
};

/** Why the Kite login did not connect (the callback's `reason`), in plain words with the fix. */
const KITE_FAILURES = {
  bad_state: 'The login link was not one this page made, or it was changed. Press "Log in for today" on the account to start again.',
  expired_state: 'The login link expired before you came back from Kite. Press "Log in for today" on the account again.',
  replayed_state: 'This login link was already used once. Press "Log in for today" on the account again.',
  login_refused: 'Kite did not complete the login (it was cancelled, or Kite refused the app\'s API key or secret). Check the API key and secret of your Kite Connect app, then log in again.',
  ip_not_whitelisted: 'Kite refuses orders from your IP. Add the IP below to the IP whitelist of your app at developers.kite.trade > My apps, then press "Log in for today" again.',
  broker_unreachable: 'Kite could not be reached. Nothing is wrong with your details: press "Log in for today" again in a few minutes.',
};

/** The signed-in session: the token never leaves this object except in Authorization headers. */
const session = { token: null, meta: null, egress: null, accounts: [] };
/** Verification outcomes to show on account cards, by account id, until the next sign-out. */
const accountNotes = new Map();
/** The result of a Kite login this page came back from, read from the URL at load. */
let kiteReturn = takeKiteReturn();

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// DOM helpers

/** Makes an element; strings among the children become text nodes. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('data-') || name.startsWith('aria-') || name === 'role' || name === 'type'
      || name === 'id' || name === 'href' || name === 'rel' || name === 'for') {
      node.setAttribute(name, value === true ? '' : String(value));
    } else node[name] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function show(node, visible) { node.hidden = !visible; }

/** Fills a result box: tone (`ok`, `warn`, `bad`, `neutral`), a heading and content. */
function setResult(box, tone, title, ...content) {
  box.className = `result ${tone}`;
  box.replaceChildren(el('h3', {}, title), ...content);
  show(box, true);
}

function clearResult(box) {
  box.replaceChildren();
  show(box, false);
}

function focusResult(box) {
  box.focus({ preventScroll: false });
}

/** Disables a button while `work` runs, so a slow broker call cannot be sent twice. */
async function busy(button, work) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

function brokerName(broker) { return BROKER_NAMES[broker] ?? broker; }

function accountLabel(account) {
  const code = account.client_code ? ` ${account.client_code}` : '';
  return `${brokerName(account.broker)}${code}`;
}

function formatTime(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

/** An http(s) URL from the server, or null: only such URLs become links. */
function safeUrl(value) {
  try {
    const url = new URL(value, location.href);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The API

/**
 * Calls brokerd with `token` (the session's by default). Answers `{status, ok, data,
 * retryAfter}`; a network failure is status 0. A 401 on the session's token signs out: it
 * expired or was revoked.
 */
async function api(method, path, body, token = session.token) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    return { status: 0, ok: false, data: null, retryAfter: null };
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (response.status === 401 && token && token === session.token) {
    signOut('Your sign-in has expired or was refused: sign in again.');
  }
  return { status: response.status, ok: response.ok, data, retryAfter: response.headers.get('Retry-After') };
}

/** A failed answer in plain words. */
function problem(answer) {
  if (answer.status === 0) return 'The server could not be reached. Check your connection and try again.';
  if (answer.status === 429) {
    const wait = Number.parseInt(answer.retryAfter ?? '', 10);
    return Number.isFinite(wait)
      ? `Too many attempts in a short time: try again in ${wait} seconds.`
      : 'Too many attempts in a short time: try again in a minute.';
  }
  return answer.data?.error?.message ?? `The server answered HTTP ${answer.status}.`;
}

// ---------------------------------------------------------------------------------------------
// The Kite callback's return

/** Reads `?kite=...` once and removes the query from the address bar and history entry. */
function takeKiteReturn() {
  const params = new URLSearchParams(location.search);
  const kite = params.get('kite');
  if (location.search) history.replaceState(null, '', location.pathname);
  if (kite === 'connected') {
    const account = params.get('account') ?? '';
    return { connected: true, account: UUID.test(account) ? account : null };
  }
  if (kite === 'failed') {
    const account = params.get('account') ?? '';
    return { connected: false, reason: params.get('reason') ?? '', account: UUID.test(account) ? account : null };
  }
  return null;
}

function showKiteReturn() {
  if (!kiteReturn) return;
  const box = $('kite-result');
  const account = session.accounts.find((candidate) => candidate.id === kiteReturn.account);
  if (kiteReturn.connected) {
    if (account) {
      setResult(box, 'ok', 'Zerodha account connected',
        el('p', {}, `Your ${accountLabel(account)} account is connected: its orders can go today. Kite asks for this login once a day; the account shows "Log in for today" when it is due.`));
    } else {
      setResult(box, 'warn', 'Kite login finished for another user',
        el('p', {}, 'The Kite login finished, but for an account that is not one of yours. Sign out and sign in as the user who started the login to see it.'));
    }
  } else {
    const fix = KITE_FAILURES[kiteReturn.reason] ?? 'The Kite login did not complete. Press "Log in for today" on the account to try again.';
    const content = [el('p', {}, account ? `${accountLabel(account)}: ${fix}` : fix)];
    if (kiteReturn.reason === 'ip_not_whitelisted' && session.egress?.ip) {
      content.push(el('p', { class: 'ip' }, session.egress.ip));
    }
    setResult(box, 'bad', 'Zerodha login did not connect', ...content);
  }
  kiteReturn = null;
  show($('kite-pending'), false);
  const zerodha = document.querySelector('input[name="broker"][value="zerodha"]');
  zerodha.checked = true;
  onBrokerChange();
  focusResult(box);
}

// ---------------------------------------------------------------------------------------------
// Sign-in

async function start() {
  $('redirect-url').textContent = `${location.origin}/v1/zerodha/callback`;
  $('postback-url').textContent = `${location.origin}/v1/zerodha/postback`;
  const meta = await api('GET', '/v1/meta');
  session.meta = meta.ok && meta.data ? meta.data : { sandbox: false };
  if (meta.status === 0) $('page-status').textContent = problem(meta);
  show($('sandbox-tag'), session.meta.sandbox === true);
  show($('run-demo-slot'), session.meta.sandbox === true);
  showSignIn();
}

function showSignIn() {
  show($('signed-in'), false);
  show($('who'), false);
  show($('sign-in'), true);
  const sandbox = session.meta?.sandbox === true;
  show($('sandbox-sign-in'), sandbox);
  show($('token-form'), !sandbox);
  if (kiteReturn) {
    const pending = $('kite-pending');
    pending.textContent = 'You are back from the Kite login. Sign in again to see the result: this page keeps your sign-in in this tab\'s memory only, so leaving for Kite signed you out.';
    show(pending, true);
  }
  const demoUsers = $('demo-users');
  if (sandbox && demoUsers.childElementCount === 0) {
    for (const user of DEMO_USERS) {
      const button = el('button', { type: 'button', 'data-user': user }, `Sign in as ${user}`);
      button.addEventListener('click', () => busy(button, () => signInDemo(user)));
      demoUsers.append(button);
    }
  }
}

async function signInDemo(user) {
  const answer = await api('POST', '/v1/sandbox/token', { user });
  if (!answer.ok || typeof answer.data?.token !== 'string') {
    $('page-status').textContent = problem(answer);
    return;
  }
  await signedIn(answer.data.token, `Demo user ${user}`);
}

async function signInNewDemoUser(event) {
  event.preventDefault();
  const input = $('demo-user');
  const error = $('demo-user-error');
  const name = input.value.trim();
  if (!DEMO_USER_NAME.test(name)) {
    showFieldError(input, error, 'Use 1 to 32 characters: a–z, 0–9, _ or -.');
    input.focus();
    return;
  }
  clearFieldError(input, error);
  input.value = '';
  await busy(event.currentTarget.querySelector('button'), () => signInDemo(name));
}

async function signInWithToken(event) {
  event.preventDefault();
  const input = $('token');
  const token = input.value.trim();
  input.value = '';
  const error = $('token-error');
  if (!token) {
    showFieldError(input, error, 'Paste the access token of your platform session.');
    return;
  }
  const probe = await api('GET', '/v1/accounts', undefined, token);
  if (!probe.ok) {
    const reason = probe.status === 401
      ? `The token was refused: ${problem(probe)} Copy a fresh access token from the platform and try again.`
      : problem(probe);
    showFieldError(input, error, reason);
    return;
  }
  clearFieldError(input, error);
  await signedIn(token, describeToken(token));
}

/** Who the token names (its `email`, else its `sub`), for the header only; never verified here. */
function describeToken(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(payload));
    if (typeof claims.email === 'string') return claims.email;
    if (typeof claims.sub === 'string') return `User ${claims.sub.slice(0, 8)}…`;
  } catch {
    // Not a readable JWT: the server accepted it, so only the label is generic.
  }
  return 'Signed in';
}

async function signedIn(token, label) {
  session.token = token;
  $('page-status').textContent = '';
  $('who-name').textContent = label;
  show($('who'), true);
  show($('sign-in'), false);
  show($('signed-in'), true);
  await Promise.all([loadEgress(), loadAccounts(), loadRuns()]);
  if (kiteReturn) showKiteReturn();
  else $('connect-title').focus();
}

/** Forgets the token and every user's data shown on the page. */
function signOut(message) {
  session.token = null;
  session.egress = null;
  session.accounts = [];
  accountNotes.clear();
  for (const id of ['account-list', 'run-list', 'egress-instructions']) $(id).replaceChildren();
  for (const id of ['kite-result', 'connect-result', 'account-result']) clearResult($(id));
  $('egress-ip').textContent = '…';
  $('copy-ip').disabled = true;
  $('runs-status').textContent = '';
  for (const form of [$('angel-one-form'), $('zerodha-form')]) form.reset();
  $('page-status').textContent = message ?? '';
  showSignIn();
}

// ---------------------------------------------------------------------------------------------
// Connect a broker

function selectedBroker() {
  return document.querySelector('input[name="broker"]:checked')?.value ?? 'angel_one';
}

function onBrokerChange() {
  const broker = selectedBroker();
  show($('angel-one-panel'), broker === 'angel_one');
  show($('zerodha-panel'), broker === 'zerodha');
  clearResult($('connect-result'));
  renderInstructions();
}

async function loadEgress() {
  const answer = await api('GET', '/v1/egress-ip');
  if (answer.ok && typeof answer.data?.ip === 'string') {
    session.egress = answer.data;
    $('egress-ip').textContent = answer.data.ip;
    $('copy-ip').disabled = false;
  } else {
    session.egress = null;
    $('egress-ip').textContent = 'not available';
    $('copy-ip').disabled = true;
    $('egress-instructions').textContent = answer.data?.error?.code === 'pool_exhausted'
      ? 'No IP is free for a new account right now: the operator has been told. Try again later.'
      : problem(answer);
    return;
  }
  renderInstructions();
}

function renderInstructions() {
  const text = session.egress?.instructions?.[selectedBroker()];
  if (text) $('egress-instructions').textContent = text;
}

async function copyIp() {
  const ip = session.egress?.ip;
  if (!ip) return;
  const status = $('copy-status');
  try {
    await navigator.clipboard.writeText(ip);
    status.textContent = `Copied ${ip}.`;
  } catch {
    const range = document.createRange();
    range.selectNodeContents($('egress-ip'));
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    status.textContent = 'The IP is selected: press Ctrl+C (or long-press and Copy) to copy it.';
  }
}

const FORM_FIELDS = {
  'angel-one-form': { api_key: 'ao-api-key', client_code: 'ao-client-code', mpin: 'ao-mpin', totp_secret: 'ao-totp-secret', api_secret: 'ao-api-secret' },
  'zerodha-form': { api_key: 'z-api-key', api_secret: 'z-api-secret' },
};

function showFieldError(input, box, message) {
  input.setAttribute('aria-invalid', 'true');
  box.textContent = message;
  show(box, true);
}

function clearFieldError(input, box) {
  input.removeAttribute('aria-invalid');
  box.textContent = '';
  show(box, false);
}

function clearFormErrors(form) {
  for (const id of Object.values(FORM_FIELDS[form.id])) clearFieldError($(id), $(`${id}-error`));
}

/** Marks the field a 400 names (or the first required empty one) and moves focus to it. */
function markField(form, field, message) {
  const id = FORM_FIELDS[form.id][field];
  if (!id) return false;
  showFieldError($(id), $(`${id}-error`), message);
  $(id).focus();
  return true;
}

/** The form's values; required empty fields are marked and answer null. */
function formValues(form, optional = []) {
  clearFormErrors(form);
  const values = {};
  let firstMissing = null;
  for (const [field, id] of Object.entries(FORM_FIELDS[form.id])) {
    const value = field === 'client_code' ? $(id).value.trim() : $(id).value;
    if (value === '') {
      if (optional.includes(field)) continue;
      showFieldError($(id), $(`${id}-error`), 'This field is required.');
      firstMissing ??= id;
    }
    values[field] = value;
  }
  if (firstMissing) {
    $(firstMissing).focus();
    return null;
  }
  return values;
}

async function submitAngelOne(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const values = formValues(form, ['api_secret']);
  if (!values) return;
  if (!/^\d{4}$/.test(values.mpin)) {
    markField(form, 'mpin', 'The MPIN is the 4 digits you use in the Angel One app.');
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  await busy(button, () => createAccount(form, { broker: 'angel_one', ...values }));
}

async function submitZerodha(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const values = formValues(form);
  if (!values) return;
  const button = form.querySelector('button[type="submit"]');
  await busy(button, () => createAccount(form, { broker: 'zerodha', ...values }));
}

/** `POST /v1/accounts`; the secrets leave the form as soon as the account is saved. */
async function createAccount(form, body) {
  const box = $('connect-result');
  clearResult(box);
  const answer = await api('POST', '/v1/accounts', body);
  if (answer.status === 400 && answer.data?.error?.field
      && markField(form, answer.data.error.field, problem(answer))) {
    return;
  }
  if (answer.data?.account) {
    form.reset();
    showVerification(box, answer.data.account, answer.data.verification, { loginUrl: answer.data.login_url });
    await loadAccounts();
  } else {
    setResult(box, 'bad', 'Not saved', el('p', {}, problem(answer)));
  }
  focusResult(box);
}

/**
 * A verification outcome in plain words with its fix, in `box`. `loginUrl` is the Kite login
 * the create answer carries besides the verification; `withActions` adds the buttons that fix
 * the account (an account card has its own).
 */
function showVerification(box, account, verification, { loginUrl, withActions = true } = {}) {
  const actions = () => (withActions ? accountActions(account, box) : null);
  const label = accountLabel(account);
  const outcome = verification?.outcome ?? account.status;
  switch (outcome) {
    case 'connected':
    case 'active':
      setResult(box, 'ok', 'Connected',
        el('p', {}, `${label} logged in from ${account.egress_ip ?? 'its IP'} and the broker accepts orders from it.`),
        el('p', {}, 'Turn on auto-execute under "Your accounts" to let the scheduler place its orders.'));
      break;
    case 'ip_not_whitelisted': {
      const ip = verification?.ip ?? account.egress_ip ?? session.egress?.ip ?? '';
      setResult(box, 'bad', 'The broker refused this IP',
        el('p', {}, `${label} is saved, but ${brokerName(account.broker)} refuses orders from the IP below: it is not registered with your app yet.`),
        el('p', { class: 'ip' }, ip),
        el('p', {}, verification?.instructions ?? registrationSteps(account.broker, ip)),
        actions());
      break;
    }
    case 'invalid_credentials':
      setResult(box, 'bad', 'The broker refused the credentials',
        el('p', {}, verification?.message ? `The broker said: ${verification.message}` : 'The broker did not accept them.'),
        el('p', {}, account.broker === 'zerodha'
          ? 'Check the API key and API secret of your Kite Connect app, remove this account and connect it again.'
          : 'Check the API key, client code and MPIN, remove this account and connect it again with the right values.'));
      break;
    case 'invalid_totp':
      setResult(box, 'bad', 'The broker refused the one-time code',
        el('p', {}, 'The code made from your TOTP secret was refused. Enter the TOTP secret itself (the text under the QR code at smartapi.angelbroking.com/enable-totp), not a 6-digit code. If you enabled TOTP again since, the secret changed: remove this account and connect it again with the new one.'));
      break;
    case 'needs_login': {
      const url = safeUrl(verification?.login_url ?? loginUrl);
      setResult(box, 'warn', 'Saved: now log in with Kite',
        el('p', {}, `${label} is saved. Log in to Zerodha to connect it; you come back here afterwards.`),
        url ? el('a', { class: 'button', href: url, 'data-action': 'kite-login' }, 'Log in with Kite')
          : actions());
      break;
    }
    case 'broker_unreachable':
      setResult(box, 'warn', 'The broker could not be reached',
        el('p', {}, verification?.message ? `What happened: ${verification.message}` : 'The broker did not answer.'),
        el('p', {}, 'Nothing is wrong with your details: press "Verify again" in a few minutes.'),
        actions());
      break;
    default:
      setResult(box, 'neutral', 'Saved', el('p', {}, `${label} is saved (${statusLabel(account.status)}).`));
  }
}

function registrationSteps(broker, ip) {
  return broker === 'zerodha'
    ? `Add ${ip} to the IP whitelist of your Kite Connect app: log in at developers.kite.trade, open My apps, choose the app and add it under IP whitelist; then verify again.`
    : `Register ${ip} as the primary static IP of your SmartAPI app: log in at smartapi.angelbroking.com, open My Profile > My APIs, edit the app and set its primary static IP; then verify again.`;
}

/** "Verify again" (and in the sandbox, registering the IP at the simulator) for a result box. */
function accountActions(account, box) {
  const row = el('div', { class: 'button-row' });
  if (needsSimulatorWhitelist(account)) {
    row.append(actionButton('whitelist', 'Sandbox: register the IP at the simulator', account, 'secondary',
      () => whitelistAtSimulator(account, box)));
  }
  row.append(actionButton('verify', 'Verify again', account, '', () => verifyAgain(account, box)));
  return row;
}

/** In the sandbox, an account the simulator may still refuse can have its IP registered there. */
function needsSimulatorWhitelist(account) {
  return session.meta?.sandbox === true && ['ip_not_whitelisted', 'needs_login', 'pending'].includes(account.status);
}

function actionButton(action, text, account, tone, work) {
  const button = el('button', {
    type: 'button',
    class: tone,
    'data-action': action,
    'data-account': account.id,
    'aria-label': `${text}: ${accountLabel(account)}`,
  }, text);
  button.addEventListener('click', () => busy(button, work));
  return button;
}

// ---------------------------------------------------------------------------------------------
// Your accounts

function statusLabel(status) { return (STATUSES[status] ?? [status])[0]; }

async function loadAccounts() {
  const answer = await api('GET', '/v1/accounts');
  if (!session.token) return;
  if (!answer.ok || !Array.isArray(answer.data)) {
    setResult($('account-result'), 'bad', 'Accounts not loaded', el('p', {}, problem(answer)));
    return;
  }
  session.accounts = answer.data;
  renderAccounts();
}

function renderAccounts() {
  const list = $('account-list');
  list.replaceChildren(...session.accounts.map(accountCard));
  show($('accounts-empty'), session.accounts.length === 0);
}

function accountCard(account) {
  const [label, tone] = STATUSES[account.status] ?? [account.status, 'neutral'];
  const headingId = `account-${account.id}`;
  const noteBox = el('div', { class: 'result', role: 'status', 'aria-live': 'polite', tabIndex: -1, hidden: true, 'data-note': account.id });
  const toggleId = `auto-${account.id}`;
  const toggle = el('input', {
    type: 'checkbox', role: 'switch', id: toggleId, checked: account.auto_execute,
    'aria-describedby': `${toggleId}-hint`, 'data-action': 'auto-execute', 'data-account': account.id,
  });
  toggle.addEventListener('change', () => setAutoExecute(account, toggle, noteBox));
  const actions = el('div', { class: 'button-row' });
  if (account.broker === 'zerodha' && account.status === 'needs_login') {
    actions.append(actionButton('kite-login', 'Log in for today', account, '', () => kiteLogin(account, noteBox)));
  }
  if (needsSimulatorWhitelist(account)) {
    actions.append(actionButton('whitelist', 'Sandbox: register the IP at the simulator', account, 'secondary',
      () => whitelistAtSimulator(account, noteBox)));
  }
  actions.append(
    actionButton('verify', 'Verify again', account, 'secondary', () => verifyAgain(account, noteBox)),
    actionButton('remove', 'Remove', account, 'secondary', () => removeAccount(account)),
  );
  const card = el('li', { class: 'card', 'data-account': account.id, 'data-status': account.status, 'aria-labelledby': headingId },
    el('div', { class: 'card-head' },
      el('h3', { id: headingId }, brokerName(account.broker)),
      el('span', { class: `badge ${tone}`, 'data-role': 'status' }, label)),
    el('dl', {},
      el('dt', {}, 'Client code'),
      el('dd', { class: 'mono' }, account.client_code
        ?? (account.broker === 'zerodha' && account.status !== 'active' ? 'shown after the Kite login' : '—')),
      el('dt', {}, 'Orders leave from'),
      el('dd', { class: 'mono' }, account.egress_ip ?? 'no IP assigned yet'),
      el('dt', {}, 'Added'),
      el('dd', {}, formatTime(account.created_at))),
    el('label', { class: 'switch', for: toggleId }, toggle, 'Auto-execute'),
    el('p', { class: 'hint', id: `${toggleId}-hint` }, account.status === 'active'
      ? 'When on, the scheduler places this account\'s orders at each slot.'
      : 'When on, the scheduler places this account\'s orders at each slot once it is connected.'),
    actions,
    noteBox);
  const note = accountNotes.get(account.id);
  if (note) showNote(noteBox, note, false);
  return card;
}

/** A note about an account: a verification outcome, or `{tone, title, text}`. */
function showNote(box, note, withActions) {
  if (note.verification) {
    showVerification(box, note.account, note.verification, { withActions });
  } else {
    setResult(box, note.tone, note.title, el('p', {}, note.text), withActions
      ? el('div', { class: 'button-row' }, actionButton('verify', 'Verify again', note.account, '', () => verifyAgain(note.account, box)))
      : null);
  }
}

/**
 * Shows `note` where the action was taken: on the account's card (kept across re-renders) or
 * in the result box of the connect form, then reloads the accounts and moves focus to it.
 */
async function report(box, note) {
  const onCard = box.closest('#account-list') !== null;
  if (onCard) accountNotes.set(note.account.id, note);
  else showNote(box, note, true);
  await loadAccounts();
  const target = onCard ? document.querySelector(`[data-note="${note.account.id}"]`) : box;
  if (target) focusResult(target);
}

async function setAutoExecute(account, toggle, box) {
  const wanted = toggle.checked;
  toggle.disabled = true;
  const answer = await api('PATCH', `/v1/accounts/${account.id}`, { auto_execute: wanted });
  toggle.disabled = false;
  if (answer.ok) {
    account.auto_execute = wanted;
    setResult(box, 'ok', wanted ? 'Auto-execute is on' : 'Auto-execute is off',
      el('p', {}, wanted ? 'The scheduler will place this account\'s orders at each slot.' : 'The scheduler will not trade this account.'));
  } else {
    toggle.checked = !wanted;
    setResult(box, 'bad', 'Not changed', el('p', {}, problem(answer)));
  }
}

async function verifyAgain(account, box) {
  const answer = await api('POST', `/v1/accounts/${account.id}/verify`);
  await report(box, answer.data?.account
    ? { account: answer.data.account, verification: answer.data.verification }
    : { account, tone: 'bad', title: 'Not verified', text: problem(answer) });
}

async function whitelistAtSimulator(account, box) {
  const answer = await api('POST', '/v1/sandbox/whitelist', { account_id: account.id });
  await report(box, answer.ok
    ? { account, tone: 'ok', title: 'IP registered at the simulator', text: `The simulated ${brokerName(account.broker)} now accepts orders from ${account.egress_ip ?? 'the account\'s IP'}. Press "Verify again".` }
    : { account, tone: 'bad', title: 'Not registered', text: problem(answer) });
}

async function kiteLogin(account, box) {
  const answer = await api('POST', `/v1/accounts/${account.id}/login-url`);
  const url = safeUrl(answer.data?.login_url);
  if (answer.ok && url) {
    location.assign(url);
  } else {
    setResult(box, 'bad', 'Kite login not started', el('p', {}, problem(answer)));
    focusResult(box);
  }
}

async function removeAccount(account) {
  const dialog = $('confirm-remove');
  $('confirm-remove-text').textContent = `${accountLabel(account)} (orders from ${account.egress_ip ?? 'no IP'}) will be removed with its stored credentials. The scheduler stops trading it.`;
  const choice = await new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true });
    dialog.returnValue = 'cancel';
    dialog.showModal();
  });
  if (choice !== 'remove') return;
  const answer = await api('DELETE', `/v1/accounts/${account.id}`);
  const box = $('account-result');
  if (answer.ok) {
    accountNotes.delete(account.id);
    setResult(box, 'ok', 'Account removed', el('p', {}, `${accountLabel(account)} is removed.`));
  } else {
    setResult(box, 'bad', 'Not removed', el('p', {}, problem(answer)));
  }
  await loadAccounts();
  focusResult(box);
}

// ---------------------------------------------------------------------------------------------
// Recent runs

async function loadRuns() {
  const status = $('runs-status');
  const answer = await api('GET', `/v1/runs?limit=${RUNS_SHOWN}`);
  if (!session.token) return;
  if (!answer.ok || !Array.isArray(answer.data)) {
    status.textContent = `Runs not loaded: ${problem(answer)}`;
    return;
  }
  const details = await Promise.all(answer.data.map((run) => api('GET', `/v1/runs/${encodeURIComponent(run.id)}`)));
  const runs = details.map((detail, index) => (detail.ok && detail.data ? detail.data : answer.data[index]));
  $('run-list').replaceChildren(...runs.map(runView));
  status.textContent = runs.length === 0
    ? 'No runs yet: runs appear here once the scheduler has traded one of your accounts.'
    : '';
}

function runView(run) {
  const counts = Object.entries(run.counts ?? {})
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${count} ${(EXECUTION_STATES[state] ?? [state])[0].toLowerCase()}`);
  const executions = Array.isArray(run.executions) ? run.executions : [];
  return el('article', { class: 'run', 'data-run': run.id },
    el('h3', {}, `${run.trading_date ?? ''} · slot ${run.slot ?? ''}`),
    el('p', { class: 'counts' },
      `Started ${formatTime(run.started_at)}${run.finished_at ? '' : ' · still running'}`,
      counts.length ? ` · ${counts.join(', ')}` : ''),
    executions.length ? el('ul', { class: 'executions' }, executions.map(executionView)) : null);
}

function executionView(execution) {
  const account = session.accounts.find((candidate) => candidate.id === execution.account_id);
  const who = account ? accountLabel(account) : `${brokerName(execution.broker)} (removed account)`;
  const [label, tone] = EXECUTION_STATES[execution.state] ?? [execution.state, 'neutral'];
  const went = execution.state === 'placed';
  return el('li', { 'data-execution': execution.intent_id ?? '', 'data-state': execution.state },
    el('p', { class: 'what' }, `${who}: ${String(execution.side ?? '').toUpperCase()} ${execution.quantity ?? ''} ${execution.symbol ?? ''}`),
    el('span', { class: `badge ${tone}` }, label),
    execution.broker_order_id ? ` order ${execution.broker_order_id}` : '',
    !went && execution.reason ? el('p', { class: 'reason' }, `Why: ${execution.reason}`) : null);
}

async function runDemoSlot() {
  const status = $('runs-status');
  const answer = await api('POST', '/v1/sandbox/run');
  if (!answer.ok) {
    status.textContent = `The demo slot did not run: ${problem(answer)}`;
    return;
  }
  await loadRuns();
  const orders = answer.data?.executions?.length ?? 0;
  status.textContent = orders === 0
    ? 'The demo slot ran, but none of your accounts has auto-execute on and is connected.'
    : `The demo slot ran: ${orders} order${orders === 1 ? '' : 's'} for your accounts, shown below.`;
}

// ---------------------------------------------------------------------------------------------
// Wiring

$('token-form').addEventListener('submit', signInWithToken);
$('demo-user-form').addEventListener('submit', signInNewDemoUser);
$('sign-out').addEventListener('click', () => signOut('Signed out.'));
for (const radio of document.querySelectorAll('input[name="broker"]')) radio.addEventListener('change', onBrokerChange);
$('copy-ip').addEventListener('click', copyIp);
$('angel-one-form').addEventListener('submit', submitAngelOne);
$('zerodha-form').addEventListener('submit', submitZerodha);
$('refresh-accounts').addEventListener('click', (event) => busy(event.currentTarget, loadAccounts));
$('refresh-runs').addEventListener('click', (event) => busy(event.currentTarget, loadRuns));
$('run-demo-slot').addEventListener('click', (event) => busy(event.currentTarget, runDemoSlot));
start();
