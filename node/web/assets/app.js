// pmdb's web page. Everything it shows comes from the HTTP APIs any client may call with the
// same certificate: pmdb's own JSON calls under /pmdb/v1 (docs/web.md) and the Beacon's
// filtering terms under /api. It keeps nothing on the server; the question history and the
// clinician's contact requests stay in this browser (localStorage).

const $ = (id) => document.getElementById(id);

// What this browser keeps (the question history, the contact requests), per signed-in identity:
// on a shared workstation the next card's holder does not see the last one's.
let whoAmI = '';
const stored = (name) => JSON.parse(localStorage.getItem(`pmdb.${name}.${whoAmI}`) || '[]');
const store = (name, list) => localStorage.setItem(`pmdb.${name}.${whoAmI}`, JSON.stringify(list));

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function showProblem(message) {
  const p = $('problem');
  p.textContent = message;
  p.hidden = !message;
}

// A call of pmdb's JSON API: GET without a body, POST with one. Throws with the server's words.
async function call(path, body) {
  const init = body === undefined ? {} : {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  };
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new Error(`the server could not be reached (${e.message})`);
  }
  let doc = null;
  try { doc = await response.json(); } catch (e) { doc = null; }
  if (!response.ok) {
    const m = doc && doc.error ? (doc.error.message || doc.error.errorMessage) : null;
    throw new Error(m || `${response.status} ${response.statusText}`);
  }
  return doc;
}

// ---- Numbers as released: never a number where there is none, always with their protection.

const NO_UPPER = '18446744073709551615';
const STATUS_WORDS = {
  REGION_OK: 'ok', REGION_UNAVAILABLE: 'unavailable', REGION_DEADLINE_EXCEEDED: 'deadline',
  REGION_REFUSED: 'refused', REGION_INVALID: 'invalid question',
};

function fmt(n) { return Number(n).toLocaleString('en-US'); }

// The number as shown: "~62" (noised), "0–9" (a range), "12" (exact), "hidden".
function shown(count) {
  if (!count) return '—';
  if (count.high === NO_UPPER) return count.low === '0' ? 'hidden' : `≥${fmt(count.low)}`;
  const noisy = Number(count.noiseSd || 0) > 0;
  if (count.low === count.high) return (noisy ? '~' : '') + fmt(count.low);
  return `${fmt(count.low)}–${fmt(count.high)}`;
}

function interval(count) {
  if (!count || count.high === NO_UPPER) return '—';
  return `${fmt(count.ci95Low)}–${fmt(count.ci95High)}`;
}

// A point for charts: the noised number, else the middle of the range; null when none.
function point(count) {
  if (!count || count.high === NO_UPPER) return null;
  if (count.noised !== undefined && count.noised !== null) return Math.max(0, Number(count.noised));
  return (Number(count.low) + Number(count.high)) / 2;
}

function protection(disclosure) {
  if (!disclosure) return '';
  return disclosure.description || disclosure.mechanism || '';
}

function statusCell(part) {
  const word = STATUS_WORDS[part.status] || part.status;
  const ok = part.status === 'REGION_OK';
  return el('td', { class: ok ? 'status-ok' : 'status-bad' }, word,
    part.detail ? el('div', { class: 'hint' }, part.detail) : null);
}

// ---- Terms for autocomplete: the Beacon's filtering terms, fetched once.

let termsPromise = null;
function terms() {
  if (!termsPromise) {
    termsPromise = call('/api/filtering_terms').then((doc) => {
      const list = (doc.response && doc.response.filteringTerms) || [];
      const byId = new Map();
      for (const t of list) byId.set(t.id, t);
      return { list, byId };
    });
  }
  return termsPromise;
}

function termLabel(id, known) {
  const t = known && known.byId.get(id);
  return t && t.label ? `${t.label} (${id})` : id;
}

// An input that suggests terms whose id starts with one of `prefixes` ("HP", "ICD10", "ATC") as
// the user types, by id or label; `onPick(term)` gets the chosen term. Keyboard: arrows, Enter,
// Escape. The list is a listbox the input controls (WAI-ARIA combobox).
function autocomplete(input, list, prefixes, onPick) {
  let options = [];
  let active = -1;
  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  };
  const mark = () => {
    [...list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === active)));
    if (active >= 0) input.setAttribute('aria-activedescendant', list.children[active].id);
  };
  const pick = (i) => {
    const t = options[i];
    if (!t) return;
    close();
    onPick(t);
  };
  input.addEventListener('input', async () => {
    const text = input.value.trim().toLowerCase();
    if (text.length < 2) return close();
    const known = await terms();
    // Best first: the exact term, then labels or ids starting with the text, then a word of
    // the label starting with it, then the text anywhere; shorter labels first within each.
    const scored = [];
    for (const t of known.list) {
      if (!prefixes.some((p) => t.id.startsWith(p + ':'))) continue;
      const id = t.id.toLowerCase();
      const label = (t.label || '').toLowerCase();
      const code = id.slice(id.indexOf(':') + 1);
      let rank = -1;
      if (label === text || id === text || code === text) rank = 0;
      else if (label.startsWith(text) || code.startsWith(text) || id.startsWith(text)) rank = 1;
      else if (label.includes(` ${text}`)) rank = 2;
      else if (label.includes(text) || id.includes(text)) rank = 3;
      if (rank >= 0) scored.push([rank, label.length, t]);
    }
    scored.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    options = scored.slice(0, 12).map((x) => x[2]);
    list.replaceChildren(...options.map((t, i) => el('li', {
      role: 'option', id: `${list.id}-${i}`, 'data-id': t.id,
      onmousedown: (e) => { e.preventDefault(); pick(i); },
    }, termLabel(t.id, known))));
    list.hidden = options.length === 0;
    input.setAttribute('aria-expanded', String(options.length > 0));
    active = -1;
  });
  input.addEventListener('keydown', (e) => {
    if (list.hidden) return;
    if (e.key === 'ArrowDown') { active = Math.min(options.length - 1, active + 1); mark(); }
    else if (e.key === 'ArrowUp') { active = Math.max(0, active - 1); mark(); }
    else if (e.key === 'Enter') { if (active >= 0) pick(active); else pick(0); }
    else if (e.key === 'Escape') close();
    else return;
    e.preventDefault();
  });
  input.addEventListener('blur', () => setTimeout(close, 150));
}

// ---- Downloads

function download(name, type, text) {
  const a = el('a', { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

function csvLine(values) {
  return values.map((v) => {
    const s = v === undefined || v === null ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }).join(',');
}

// ============================== Researcher ==============================

const KINDS = [
  { kind: 'hpo', label: 'phenotype (HPO)', prefixes: ['HP'] },
  { kind: 'dx', label: 'diagnosis (ICD-10)', prefixes: ['ICD10'] },
  { kind: 'treatment', label: 'treatment (ATC)', prefixes: ['ATC'] },
  { kind: 'sex', label: 'sex' },
  { kind: 'age', label: 'age (e.g. 60-69, 65-)' },
  { kind: 'variant', label: 'variant', placeholder: 'GRCh38:22:16068132:CAGT:C' },
  { kind: 'gene', label: 'gene (e.g. BRCA2)' },
  { kind: 'range', label: 'range', placeholder: 'GRCh38:17:43044295-43125483' },
];

let rowSerial = 0;
let lastAnswer = null;  // { kind, query, doc } of the answer on screen

function leafText(kind, value) {
  const v = value.trim();
  if (!v) return '';
  if (kind === 'dx') return `dx(${v.replace(/^ICD10:/, '')})`;
  if (kind === 'treatment') return `treatment(${v.replace(/^ATC:/, '')})`;
  return `${kind}(${v})`;
}

function builderText() {
  const groups = [...document.querySelectorAll('#groups .group')].map((g) =>
    [...g.querySelectorAll('.row')].map((row) => {
      const kind = row.querySelector('.kind').value;
      const leaf = leafText(kind, row.querySelector('.value').value);
      if (!leaf) return '';
      return (row.querySelector('.negate').checked ? 'NOT ' : '') + leaf;
    }).filter(Boolean));
  const nonEmpty = groups.filter((g) => g.length > 0);
  return nonEmpty.map((g) => (g.length > 1 && nonEmpty.length > 1 ? `(${g.join(' AND ')})`
    : g.join(' AND '))).join(' OR ');
}

function syncText() { $('query-text').value = builderText(); }

function valueInput(kind, id) {
  const spec = KINDS.find((k) => k.kind === kind);
  if (kind === 'sex') {
    return el('select', { class: 'value', id, 'aria-label': 'sex', onchange: syncText },
      el('option', { value: 'F' }, 'female'), el('option', { value: 'M' }, 'male'),
      el('option', { value: 'O' }, 'other'), el('option', { value: 'U' }, 'unknown'));
  }
  const input = el('input', {
    class: 'value', id, 'aria-label': spec.label, placeholder: spec.placeholder || '',
    spellcheck: 'false', oninput: syncText,
  });
  if (!spec.prefixes) return input;
  const list = el('ul', { id: `${id}-list`, role: 'listbox', class: 'suggestions', hidden: true });
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  input.setAttribute('aria-controls', list.id);
  autocomplete(input, list, spec.prefixes, (t) => {
    input.value = t.id.startsWith('HP:') ? t.id : t.id.replace(/^[A-Z0-9]+:/, '');
    input.title = t.label || t.id;
    syncText();
  });
  return el('span', { class: 'combo' }, input, list);
}

function addRow(group, kind = 'hpo') {
  const n = ++rowSerial;
  const row = el('div', { class: 'row' });
  const negate = el('input', { type: 'checkbox', class: 'negate', id: `not-${n}`, onchange: syncText });
  const select = el('select', { class: 'kind', id: `kind-${n}`, 'aria-label': 'criterion kind' },
    KINDS.map((k) => el('option', { value: k.kind, selected: k.kind === kind }, k.label)));
  let value = valueInput(kind, `value-${n}`);
  select.addEventListener('change', () => {
    const fresh = valueInput(select.value, `value-${n}`);
    value.replaceWith(fresh);
    value = fresh;
    syncText();
  });
  const remove = el('button', { type: 'button', 'aria-label': 'remove this criterion', onclick: () => {
    row.remove();
    if (!group.querySelector('.row')) group.remove();
    syncText();
  } }, '✕');
  row.append(el('label', { for: negate.id }, 'not'), negate, select, value, remove);
  group.querySelector('.rows').append(row);
  return row;
}

function addGroup() {
  const groups = $('groups');
  const group = el('div', { class: 'group', role: 'group' },
    el('span', { class: 'group-title' }, groups.children.length ? 'OR' : 'Group'),
    el('div', { class: 'rows' }),
    el('button', { type: 'button', class: 'add-row', onclick: () => addRow(group) }, 'Add an AND criterion'));
  groups.append(group);
  addRow(group);
  return group;
}

// The budget that binds (the least left), with every budget in the cell's title.
function budgetText(disclosure) {
  const budgets = (disclosure && disclosure.budgets) || [];
  if (!budgets.length) return { text: '—', title: '' };
  const left = (b) => Number(b.limitRho) - Number(b.spentRho);
  const binding = budgets.reduce((a, b) => (left(b) < left(a) ? b : a));
  return {
    text: `${left(binding).toFixed(3)} of ${binding.limitRho} (${binding.name}, ${binding.periodDays} days)`,
    title: budgets.map((b) => `${b.name}: ${left(b).toFixed(3)} of ${b.limitRho} over ${b.periodDays} days`).join('\n'),
  };
}

function budgetCell(td, disclosure) {
  const { text, title } = budgetText(disclosure);
  td.textContent = text;
  td.title = title;
  return td;
}

async function loadRegions() {
  const info = await call('/pmdb/v1/info');
  const body = $('regions').querySelector('tbody');
  body.replaceChildren(...info.regions.map((part) => {
    const i = part.info || {};
    return el('tr', { 'data-region': part.region },
      el('th', { scope: 'row' }, part.region),
      part.status === 'REGION_OK' ? el('td', {}, i.participating ? 'yes' : 'no') : statusCell(part),
      el('td', {}, (i.kinds || []).join(', ') || '—'),
      el('td', {}, (i.criteria || []).join(', ') || '—'),
      el('td', {}, protection(i.disclosure)),
      budgetCell(el('td', { class: 'budget' }), i.disclosure));
  }));
}

// After an answer: each region's budgets as that region reported them.
function updateBudgets(parts) {
  for (const part of parts || []) {
    const answer = part.count || part.breakdown || part.frequency;
    if (!answer || !answer.disclosure || !(answer.disclosure.budgets || []).length) continue;
    const row = document.querySelector(`#regions tr[data-region="${CSS.escape(part.region)}"] .budget`);
    if (row) budgetCell(row, answer.disclosure);
  }
}

function nationalLine(total, partial, regions) {
  const answered = regions.filter((p) => p.status === 'REGION_OK').length;
  return `National: ${shown(total)} (95 % interval ${interval(total)})` +
    (partial ? ` — covers ${answered} of ${regions.length} regions` : ` — all ${regions.length} regions`);
}

function renderCount(query, doc) {
  $('answer-title').textContent = 'Count of individuals';
  $('national').textContent = nationalLine(doc.total, doc.partial, doc.regions);
  $('chart').replaceChildren();
  $('parts').querySelector('tbody').replaceChildren(...doc.regions.map((p) => el('tr', {},
    el('th', { scope: 'row' }, p.region), statusCell(p),
    el('td', { class: 'num' }, p.count ? shown(p.count.count) : '—'),
    el('td', { class: 'num' }, p.count ? interval(p.count.count) : '—'),
    el('td', {}, p.count ? protection(p.count.disclosure) : ''))));
}

function barChart(cells) {
  const w = 640, bar = 26, gap = 8, left = 120;
  const values = cells.map((c) => point(c.count));
  const max = Math.max(1, ...values.filter((v) => v !== null), ...cells.map((c) =>
    (c.count && c.count.high !== NO_UPPER ? Number(c.count.ci95High) : 0)));
  const h = cells.length * (bar + gap) + gap;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'bar chart of the national numbers per cell');
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  cells.forEach((c, i) => {
    const y = gap + i * (bar + gap);
    add('text', { x: 4, y: y + bar * 0.7 }, c.labels.join(' · '));
    const v = values[i];
    if (v === null) {
      add('text', { x: left + 4, y: y + bar * 0.7, class: 'suppressed' }, 'hidden (protected)');
      return;
    }
    const scale = (w - left - 80) / max;
    add('rect', { x: left, y, width: Math.max(1, v * scale), height: bar, fill: '#0b5cad', class: 'bar' });
    const lo = Number(c.count.ci95Low) * scale, hi = Number(c.count.ci95High) * scale;
    add('line', { x1: left + lo, x2: left + hi, y1: y + bar / 2, y2: y + bar / 2, stroke: '#f0b400', 'stroke-width': 3 });
    add('text', { x: left + Math.max(v * scale, hi) + 6, y: y + bar * 0.7 }, shown(c.count));
  });
  return svg;
}

function heatMap(cells) {
  const rows = [...new Set(cells.map((c) => c.labels[0]))];
  const cols = [...new Set(cells.map((c) => c.labels[1]))];
  const values = cells.map((c) => point(c.count)).filter((v) => v !== null);
  const max = Math.max(1, ...values);
  const table = el('table', { class: 'grid heat', 'aria-label': 'heat map of the national numbers' },
    el('thead', {}, el('tr', {}, el('th', {}, ''), cols.map((c) => el('th', { scope: 'col' }, c)))));
  const body = el('tbody');
  for (const r of rows) {
    const tr = el('tr', {}, el('th', { scope: 'row' }, r));
    for (const c of cols) {
      const cell = cells.find((x) => x.labels[0] === r && x.labels[1] === c);
      const v = cell ? point(cell.count) : null;
      const td = el('td', { class: 'num' }, cell ? shown(cell.count) : '—');
      if (v !== null) td.style.background = `rgba(11, 92, 173, ${(0.1 + 0.8 * v / max).toFixed(2)})`;
      if (v !== null && v / max > 0.5) td.style.color = 'white';
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(body);
  return table;
}

function renderBreakdown(query, doc) {
  $('answer-title').textContent = `Breakdown by ${doc.dimensions.map((d) => d.toLowerCase().replace('_', ' ')).join(' × ')}`;
  const answered = doc.regions.filter((p) => p.status === 'REGION_OK').length;
  $('national').textContent = `National cells, summed over ${answered} of ${doc.regions.length} regions`;
  const totals = doc.totals || [];
  $('chart').replaceChildren(doc.dimensions.length === 2 ? heatMap(totals) : barChart(totals));
  $('parts').querySelector('tbody').replaceChildren(...doc.regions.map((p) => {
    const cells = (doc.cells || []).filter((c) => c.labels[c.labels.length - 1] === p.region);
    const text = cells.map((c) => `${c.labels.slice(0, -1).join('·')}: ${shown(c.count)}`).join('; ');
    return el('tr', {}, el('th', { scope: 'row' }, p.region), statusCell(p),
      el('td', {}, p.breakdown ? text : '—'), el('td', {}, ''),
      el('td', {}, p.breakdown ? protection(p.breakdown.disclosure) : ''));
  }));
}

function renderCost(query, doc) {
  $('answer-title').textContent = 'What it would cost (nothing was charged)';
  $('national').textContent = '';
  $('chart').replaceChildren();
  $('parts').querySelector('tbody').replaceChildren(...doc.regions.map((p) => {
    const d = p.count && p.count.disclosure;
    return el('tr', {}, el('th', { scope: 'row' }, p.region), statusCell(p),
      el('td', {}, d ? (d.refusal ? `would refuse: ${d.refusal}` : `ρ ${Number(d.rho).toFixed(4)}`) : '—'),
      el('td', {}, ''), el('td', {}, d ? protection(d) : ''));
  }));
}

function remember(entry) {
  const history = stored('history');
  history.unshift(entry);
  store('history', history.slice(0, 50));
  renderHistory();
}

function renderHistory() {
  const history = stored('history');
  $('history').replaceChildren(...history.map((h) => el('li', {},
    `${new Date(h.when).toLocaleString('sv-SE')} — ${h.kind}${h.by ? ` by ${h.by}` : ''}: `,
    el('code', {}, h.query), ` → ${h.summary} `,
    el('button', { type: 'button', class: 'rerun', onclick: () => {
      if (h.kind === 'frequency') {
        $('frequency-variant').value = h.query.replace(/^variant\((.*)\)$/, '$1');
        return frequencies();
      }
      $('query-text').value = h.query;
      if (h.by) $('breakdown-by').value = h.by;
      ask(h.kind, h.by);
    } }, 'Run again'))));
}

async function ask(kind, by) {
  const query = $('query-text').value.trim();
  if (!query) return showProblem('Build a question first, or type one in the criterion language.');
  showProblem('');
  const busy = document.querySelectorAll('#builder button');
  busy.forEach((b) => { b.disabled = true; });
  try {
    let doc;
    if (kind === 'breakdown') {
      doc = await call('/pmdb/v1/breakdown', { query, dimensions: by.split(',') });
      renderBreakdown(query, doc);
    } else if (kind === 'cost') {
      doc = await call('/pmdb/v1/count', { query, costOnly: true });
      renderCost(query, doc);
    } else {
      doc = await call('/pmdb/v1/count', { query });
      renderCount(query, doc);
    }
    $('answer-query').textContent = query;
    $('answer').hidden = false;
    lastAnswer = { kind, by, query, doc };
    updateBudgets(doc.regions);
    const summary = kind === 'count' ? shown(doc.total)
      : kind === 'breakdown' ? `${(doc.totals || []).length} cells` : 'a quote';
    remember({ when: Date.now(), kind, by: kind === 'breakdown' ? by : '', query, summary });
  } catch (e) {
    showProblem(e.message);
  } finally {
    busy.forEach((b) => { b.disabled = false; });
  }
}

function answerCsv() {
  const { kind, doc } = lastAnswer;
  const lines = [csvLine(['region', 'cell', 'status', 'low', 'high', 'noised', 'noise_sd', 'ci95_low', 'ci95_high'])];
  const row = (region, cell, status, c) => lines.push(csvLine([region, cell, status,
    c ? c.low : '', c && c.high !== NO_UPPER ? c.high : '', c ? c.noised : '', c ? c.noiseSd : '',
    c ? c.ci95Low : '', c ? c.ci95High : '']));
  if (kind === 'breakdown') {
    for (const c of doc.totals || []) row('national', c.labels.join(' '), '', c.count);
    for (const c of doc.cells || []) row(c.labels[c.labels.length - 1], c.labels.slice(0, -1).join(' '), 'REGION_OK', c.count);
    for (const p of doc.regions) if (p.status !== 'REGION_OK') row(p.region, '', p.status, null);
  } else {
    row('national', '', doc.partial ? 'partial' : 'complete', doc.total);
    for (const p of doc.regions) row(p.region, '', p.status, p.count && p.count.count);
  }
  return lines.join('\n') + '\n';
}

async function frequencies(event) {
  if (event) event.preventDefault();
  const variant = $('frequency-variant').value.trim();
  if (!variant) return;
  showProblem('');
  try {
    const doc = await call('/pmdb/v1/frequency', { query: `variant(${variant})` });
    const af = (ac, an) => {
      if (!ac || !an || ac.high === NO_UPPER || an.high === NO_UPPER) return '—';
      const a = point(ac), n = point(an);
      return n > 0 ? (a / n).toFixed(4) : '—';
    };
    const table = $('frequencies');
    table.querySelector('tbody').replaceChildren(
      el('tr', { class: 'national-row' }, el('th', { scope: 'row' }, 'national'),
        el('td', {}, doc.partial ? 'partial' : 'all regions'),
        el('td', { class: 'num' }, `${shown(doc.ac)} (${interval(doc.ac)})`),
        el('td', { class: 'num' }, `${shown(doc.an)} (${interval(doc.an)})`),
        el('td', { class: 'num' }, af(doc.ac, doc.an))),
      ...doc.regions.map((p) => el('tr', {}, el('th', { scope: 'row' }, p.region), statusCell(p),
        el('td', { class: 'num' }, p.frequency ? `${shown(p.frequency.ac)} (${interval(p.frequency.ac)})` : '—'),
        el('td', { class: 'num' }, p.frequency ? `${shown(p.frequency.an)} (${interval(p.frequency.an)})` : '—'),
        el('td', { class: 'num' }, p.frequency ? af(p.frequency.ac, p.frequency.an) : '—'))));
    table.hidden = false;
    updateBudgets(doc.regions);
    remember({ when: Date.now(), kind: 'frequency', by: '', query: `variant(${variant})`, summary: `AC ${shown(doc.ac)}, AN ${shown(doc.an)}` });
  } catch (e) {
    showProblem(e.message);
  }
}

function startResearcher() {
  $('researcher').hidden = false;
  addGroup();
  $('add-group').addEventListener('click', () => addGroup());
  $('builder').addEventListener('submit', (e) => { e.preventDefault(); ask('count'); });
  $('run-breakdown').addEventListener('click', () => ask('breakdown', $('breakdown-by').value));
  $('run-cost').addEventListener('click', () => ask('cost'));
  $('download-csv').addEventListener('click', () => lastAnswer && download('pmdb-answer.csv', 'text/csv', answerCsv()));
  $('download-json').addEventListener('click', () => lastAnswer && download('pmdb-answer.json', 'application/json', JSON.stringify(lastAnswer.doc, null, 2)));
  $('frequency-form').addEventListener('submit', frequencies);
  renderHistory();
  loadRegions().catch((e) => showProblem(e.message));
  terms().catch(() => {});  // fetched early, so the first suggestions come at once
}

// ============================== Clinician ==============================

const caseTerms = { observed: [], excluded: [] };
let lastMatches = [];

function renderChips(which) {
  $(which).replaceChildren(...caseTerms[which].map((t, i) => el('li', { 'data-id': t.id },
    t.label ? `${t.label} (${t.id})` : t.id,
    el('button', { type: 'button', 'aria-label': `remove ${t.label || t.id}`, onclick: () => {
      caseTerms[which].splice(i, 1);
      renderChips(which);
    } }, '✕'))));
}

function caseVariant() {
  const text = $('case-variant').value.trim();
  if (!text) return [];
  const zygosity = $('case-zygosity').value;
  const parts = text.split(':');
  if (parts.length === 5) {
    const [assembly, chrom, pos, ref, alt] = parts;
    return [{ assembly, chrom, pos: Number(pos), ref, alt, zygosity }];
  }
  return [{ gene: text, zygosity }];
}

const SEX_WORDS = { FEMALE: 'female', MALE: 'male', OTHER_SEX: 'other sex' };
const ZYGOSITY_WORDS = { HETEROZYGOUS: 'heterozygous', HOMOZYGOUS: 'homozygous', HEMIZYGOUS: 'hemizygous' };
const STATE_WORDS = {
  CONTACT_PENDING: 'pending', CONTACT_ACCEPTED: 'accepted', CONTACT_DECLINED: 'declined',
};

function myRequests() { return stored('requests'); }

function renderRequests() {
  $('my-requests').querySelector('tbody').replaceChildren(...myRequests().map((t) => el('tr', { 'data-request': t.requestId },
    el('td', {}, t.requestId), el('td', {}, t.region),
    el('td', { class: 'state' }, STATE_WORDS[t.state] || t.state), el('td', {}, t.answer || ''),
    el('td', {}, t.createdUnix ? new Date(Number(t.createdUnix) * 1000).toLocaleString('sv-SE') : ''))));
}

async function refreshRequests() {
  const fresh = [];
  for (const t of myRequests()) {
    try { fresh.push(await call('/pmdb/v1/contact-status', { requestId: t.requestId })); }
    catch (e) { fresh.push(t); showProblem(e.message); }
  }
  store('requests', fresh);
  renderRequests();
}

function openContact(match) {
  $('contact-case').textContent = `Case ${match.caseReference} in ${match.region}, ${match.careUnit}`;
  $('contact-reason').value = '';
  const dialog = $('contact-dialog');
  dialog.returnValue = '';
  dialog.onclose = async () => {
    if (dialog.returnValue !== 'send') return;
    try {
      const ticket = await call('/pmdb/v1/contact-requests',
        { caseReference: match.caseReference, reason: $('contact-reason').value });
      store('requests', [ticket, ...myRequests()]);
      renderRequests();
    } catch (e) {
      showProblem(e.message);
    }
  };
  dialog.showModal();
}

async function similar(event) {
  event.preventDefault();
  showProblem('');
  const diagnoses = $('case-diagnoses').value.split(',').map((s) => s.trim()).filter(Boolean);
  const body = {
    patient: {
      phenotypes: caseTerms.observed.map((t) => t.id),
      excludedPhenotypes: caseTerms.excluded.map((t) => t.id),
      variants: caseVariant(),
      diagnoses,
    },
    top: 10,
  };
  try {
    const known = await terms().catch(() => null);
    const doc = await call('/pmdb/v1/similar-cases', body);
    lastMatches = doc.matches || [];
    const answered = doc.regions.filter((p) => p.status === 'REGION_OK').length;
    const notes = (doc.notes || []).map((n) => `${n.id}: ${n.problem}`).join('; ');
    const missing = doc.regions.filter((p) => p.status !== 'REGION_OK')
      .map((p) => `${p.region}: ${STATUS_WORDS[p.status] || p.status}${p.detail ? ` (${p.detail})` : ''}`);
    $('matches-note').textContent = `${lastMatches.length} ${lastMatches.length === 1 ? 'match' : 'matches'} from ${answered} of ${doc.regions.length} regions` +
      (missing.length ? ` — not searched: ${missing.join('; ')}` : '') + (notes ? `. Terms: ${notes}` : '');
    $('matches').querySelector('tbody').replaceChildren(...lastMatches.map((m, i) => el('tr', { class: 'match' },
      el('td', {}, i + 1),
      el('td', { class: 'num' }, Number(m.score).toFixed(3)),
      el('td', {}, `phenotype ${Number(m.phenotypeScore).toFixed(2)}, genotype ${Number(m.genotypeScore).toFixed(2)}, diagnosis ${Number(m.diagnosisScore).toFixed(2)}`,
        m.contradiction ? el('div', { class: 'status-bad' }, 'a feature observed on one side is excluded on the other') : null),
      el('td', {}, el('ul', {},
        (m.phenotypes || []).map((p) => el('li', {}, p.exact ? `${termLabel(p.queryTerm, known)}: the same`
          : `${termLabel(p.queryTerm, known)} ↔ shares ${p.commonLabel} (${p.commonTerm})`)),
        (m.variants || []).map((v) => el('li', {}, `${v.queryVariant}: same ${v.level}${ZYGOSITY_WORDS[v.zygosity] ? `, ${ZYGOSITY_WORDS[v.zygosity]}` : ''}`)))),
      el('td', {}, [SEX_WORDS[m.sex] || '', m.ageBand, m.icd10Chapter].filter(Boolean).join(', ')),
      el('td', {}, `${m.region}, ${m.careUnit}`),
      el('td', {}, el('button', { type: 'button', class: 'contact', onclick: () => openContact(m) }, 'Ask for contact')))));
    $('matches-box').hidden = false;
  } catch (e) {
    showProblem(e.message);
  }
}

function startClinician() {
  $('clinician').hidden = false;
  for (const which of ['observed', 'excluded']) {
    const input = $(`${which}-input`);
    autocomplete(input, $(`${which}-input-list`), ['HP'], (t) => {
      if (!caseTerms[which].some((x) => x.id === t.id)) caseTerms[which].push(t);
      input.value = '';
      renderChips(which);
    });
  }
  $('case-form').addEventListener('submit', similar);
  $('refresh-requests').addEventListener('click', refreshRequests);
  renderRequests();
  terms().catch(() => {});
}

// ============================== Operator ==============================

function when(unix) { return unix && unix !== '0' ? new Date(Number(unix) * 1000).toLocaleString('sv-SE') : '—'; }

async function loadStatus() {
  const s = await call('/pmdb/v1/status');
  $('operator-region').textContent = s.region;
  const facts = [
    ['Version', s.version], ['Running since', when(s.startedUnix)],
    ['Individuals', fmt(s.individuals)], ['Consent to research', fmt(s.consentResearch)],
    ['Consent to care', fmt(s.consentCare)], ['On disk', `${(Number(s.diskBytes) / 1e6).toFixed(1)} MB`],
    ['Audit entries', fmt(s.auditEntries)], ['Datasets', Object.keys(s.datasets || {}).join(', ') || '—'],
    ['HPO', s.ontology || '—'], ['Researchers get', protection(s.disclosure)],
  ];
  $('status').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  $('budgets').querySelector('tbody').replaceChildren(...(s.budgets || []).map((b) => el('tr', {},
    el('th', { scope: 'row' }, b.name), el('td', { class: 'num' }, Number(b.spentRho).toFixed(4)),
    el('td', { class: 'num' }, Number(b.limitRho).toFixed(4)), el('td', {}, `${b.periodDays} days`),
    el('td', {}, when(b.renewsUnix)))));
}

async function loadContacts() {
  const reply = await call('/pmdb/v1/contacts', {});
  $('contacts').querySelector('tbody').replaceChildren(...(reply.requests || []).map((v) => {
    const t = v.ticket;
    const pending = t.state === 'CONTACT_PENDING';
    const message = el('input', { 'aria-label': `answer to ${t.requestId}`, class: 'answer-text', placeholder: 'message to the clinician' });
    const answer = (accept) => async () => {
      try {
        await call('/pmdb/v1/contact-answer', { requestId: t.requestId, accept, message: message.value });
        await loadContacts();
      } catch (e) {
        showProblem(e.message);
      }
    };
    return el('tr', { 'data-request': t.requestId },
      el('td', {}, t.requestId), el('td', {}, v.requester), el('td', {}, v.reason),
      el('td', {}, v.subjectId), el('td', {}, v.careUnit),
      el('td', { class: 'state' }, STATE_WORDS[t.state] || t.state),
      el('td', {}, pending ? [message,
        el('button', { type: 'button', class: 'accept', onclick: answer(true) }, 'Accept'),
        el('button', { type: 'button', class: 'decline', onclick: answer(false) }, 'Decline')] : t.answer || ''));
  }));
}

async function searchAudit(event) {
  if (event) event.preventDefault();
  showProblem('');
  const since = $('audit-since').value;
  const request = { caller: $('audit-caller').value.trim(), limit: 500, newest: true };
  if (since) {
    const [y, m, d] = since.split('-').map(Number);
    request.sinceUnixMicros = String(new Date(y, m - 1, d).getTime() * 1000);  // local midnight
  }
  const subject = $('audit-subject').value.trim();
  if (subject) request.subject = subject;
  try {
    const reply = await call('/pmdb/v1/audit', request);
    // The newest 500 that match, newest first.
    $('audit').querySelector('tbody').replaceChildren(...(reply.entries || []).reverse().map((e) => el('tr', {},
      el('td', {}, e.seq), el('td', {}, new Date(Number(e.timeUnixMicros) / 1000).toLocaleString('sv-SE')),
      el('td', {}, e.caller + (e.via ? ` via ${e.via}` : '')), el('td', {}, e.method),
      el('td', {}, e.outcome), el('td', { class: 'mono' }, e.query), el('td', {}, e.released))));
  } catch (e) {
    showProblem(e.message);
  }
}

function startOperator() {
  $('operator').hidden = false;
  $('audit-form').addEventListener('submit', searchAudit);
  loadStatus().catch((e) => showProblem(e.message));
  loadContacts().catch((e) => showProblem(e.message));
  searchAudit();
}

// ============================== Start ==============================

async function start() {
  let me;
  try {
    me = await call('/pmdb/v1/me');
  } catch (e) {
    $('who').textContent = 'Not signed in';
    return showProblem(`Your certificate was not accepted: ${e.message}`);
  }
  const where = me.server === 'node' ? `region ${me.region}'s node` : 'the national hub';
  $('who').textContent = `${me.name || me.identity} — ${me.role}${me.region ? `, region ${me.region}` : ''} — at ${where}`;
  $('who').title = me.identity;
  whoAmI = me.identity;
  if (me.server === 'hub' && me.role === 'researcher') return startResearcher();
  if (me.server === 'hub' && me.role === 'clinician') return startClinician();
  if (me.server === 'node' && me.role === 'operator') return startOperator();
  showProblem(`There is nothing here for a ${me.role}: researchers and clinicians use the hub's page, operators their node's.`);
}

start();
