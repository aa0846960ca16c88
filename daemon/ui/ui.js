// The status page: migrations in flight (followed on their event streams),
// the selected job's chart, recent jobs and their outcomes, VFs per pool.
// Everything is built with DOM calls and textContent: what migd reports
// (domain names, reasons) is never read as markup.
'use strict';

import { Unauthorized, get, listMigrations, setToken, watch } from './api.js';
import { drawTimeline, formatMs } from './chart.js';

const REFRESH_MS = 3000;
const RECENT = 50;
const FINAL = new Set(['completed', 'failed', 'cancelled']);

const jobs = new Map();     // id -> the record GET /v1/migrations gave
const live = new Map();     // id -> { job, stop }: jobs followed on their stream
let refreshTimer = null;
let waitingForToken = false;

const $ = (id) => document.getElementById(id);

function element(name, attrs, ...children) {
    const e = document.createElement(name);
    for (const [key, value] of Object.entries(attrs || {})) {
        if (key.startsWith('data-'))
            e.dataset[key.slice(5)] = value;
        else
            e.setAttribute(key, value);
    }
    for (const child of children)
        e.append(child instanceof Node ? child : String(child));
    return e;
}

function showProblem(message) {
    $('problem').textContent = message || '';
    $('problem').hidden = !message;
}

function when(at) {
    if (!at)
        return '—';
    const d = new Date(at);
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
           `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function bytes(n) {
    if (typeof n !== 'number')
        return '—';
    return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
}

const destination = (job) => job.destination.name || job.destination.libvirt_uri;

// "auto → unplug": what was asked and, when it differs, what the NICs took.
function strategy(job) {
    const taken = job.nics && job.nics.strategy;
    return taken && taken !== job.strategy ? `${job.strategy} → ${taken}` : job.strategy;
}

const current = (id) => (live.has(id) ? live.get(id).job : jobs.get(id));

// --- the selected job ---------------------------------------------------------

function selectedId() {
    const id = decodeURIComponent(location.hash.slice(1));
    if (id && current(id))
        return id;
    // None chosen: the newest job, in flight or not.
    let newest = null;
    for (const job of [...jobs.values(), ...[...live.values()].map((l) => l.job)]) {
        if (!newest || job.created_at > newest.created_at)
            newest = job;
    }
    return newest ? newest.id : null;
}

function renderDetail() {
    const id = selectedId();
    const job = id ? current(id) : null;
    $('detail').hidden = !job;
    if (!job)
        return;
    $('detail').dataset.job = job.id;
    $('detail-title').textContent = `Migration of ${job.domain} to ${destination(job)}`;
    const last = (job.timeline || [])[job.timeline.length - 1];
    const outcome = job.outcome ? job.outcome.reason : last ? last.message : '';
    $('detail-summary').replaceChildren(
        element('span', { class: `state state-${job.state}` }, job.state), ' ',
        `${outcome} · strategy ${strategy(job)} · started ${when(job.created_at)} · id ${job.id}`);
    const { svg, figures } = drawTimeline(job, Date.now());
    $('detail-chart').replaceChildren(svg);
    $('detail-figures').textContent = figures.join(' · ');
    $('detail-timeline').replaceChildren(...(job.timeline || []).map((e) =>
        element('li', { class: `entry entry-${e.kind}` },
                element('span', { class: 'offset' }, formatMs(e.t_ms)), ' ',
                element('span', { class: 'entry-state' }, e.state), ' ', e.message)));
}

// --- migrations in flight -----------------------------------------------------

function progressLine(p) {
    if (!p)
        return 'no progress reported yet';
    const parts = [`${p.percent.toFixed(0)}%`, `${bytes(p.data_remaining)} left of ${bytes(p.data_total)}`,
                   `iteration ${p.iteration}`];
    if (p.memory_bps)
        parts.push(`${bytes(p.memory_bps)}/s`);
    if (typeof p.eta_ms === 'number')
        parts.push(`about ${formatMs(p.eta_ms)} to go`);
    return parts.join(' · ');
}

function inFlightCard(job) {
    const p = job.progress;
    const last = (job.timeline || [])[job.timeline.length - 1];
    const bar = element('progress', { max: 100, 'aria-label': 'memory copied' });
    if (p)
        bar.value = p.percent;
    const card = element('article', { class: 'job', 'data-job': job.id, 'data-state': job.state },
        element('h3', {}, `${job.domain} → ${destination(job)} `,
                element('span', { class: `state state-${job.state}` }, job.state)),
        bar,
        element('p', { class: 'progress-line' }, progressLine(p)),
        element('p', { class: 'muted last-entry' }, last ? last.message : ''));
    card.tabIndex = 0;
    card.addEventListener('click', () => { location.hash = job.id; });
    const { svg } = drawTimeline(job, Date.now());
    card.append(element('div', { class: 'chart' }, svg));
    return card;
}

function renderInFlight() {
    const cards = [...live.values()].map((l) => inFlightCard(l.job));
    $('in-flight-list').replaceChildren(...cards);
    $('in-flight-none').hidden = cards.length > 0;
}

function render() {
    renderInFlight();
    renderRecent();
    renderDetail();
}

// What each event of the stream changes in the record the page holds.
function apply(entry, name, data) {
    const job = entry.job;
    if (name === 'snapshot' || name === 'end') {
        entry.job = data;
    } else if (name === 'timeline') {
        job.timeline.push(data);
        job.state = data.state;
    } else if (name === 'progress') {
        job.state = data.state;
        job.progress = data.progress;
    }
}

function follow(job) {
    const entry = { job, stop: null };
    live.set(job.id, entry);
    entry.stop = watch(job.id, (name, data) => {
        apply(entry, name, data);
        if (name === 'end')
            jobs.set(data.id, data);
        render();
    }, (error) => {
        live.delete(job.id);
        if (error)
            showProblem(`Following migration ${job.id} stopped: ${error.message}`);
        refresh();
    });
}

// --- recent migrations ----------------------------------------------------------

function renderRecent() {
    const finished = [...jobs.values()].filter((j) => FINAL.has(j.state) && !live.has(j.id))
        .sort((a, b) => (b.finished_at || '').localeCompare(a.finished_at || '')).slice(0, RECENT);
    const rows = finished.map((job) => {
        const nics = job.nics || {};
        const row = element('tr', { 'data-job': job.id, 'data-outcome': job.state },
            element('td', {}, when(job.finished_at)),
            element('td', {}, job.domain),
            element('td', {}, destination(job)),
            element('td', {}, strategy(job)),
            element('td', { class: 'outcome' },
                    element('span', { class: `state state-${job.state}` }, job.state), ' ',
                    job.outcome ? job.outcome.reason : ''),
            element('td', { class: 'num' }, formatMs((job.result || {}).downtime_ms)),
            element('td', { class: 'num' }, formatMs(nics.no_vf_window_ms)));
        row.tabIndex = 0;
        row.addEventListener('click', () => { location.hash = job.id; });
        row.addEventListener('keydown', (e) => { if (e.key === 'Enter') location.hash = job.id; });
        if (job.id === selectedId())
            row.classList.add('selected');
        return row;
    });
    $('recent-table').tBodies[0].replaceChildren(...rows);
    $('recent-table').hidden = rows.length === 0;
    $('recent-none').hidden = rows.length > 0;
}

// --- VFs per pool ---------------------------------------------------------------

function renderVfs(vfs) {
    const pools = new Map();
    for (const vf of vfs) {
        if (!pools.has(vf.pool))
            pools.set(vf.pool, []);
        pools.get(vf.pool).push(vf);
    }
    const sections = [...pools.entries()].sort().map(([pool, list]) => {
        const count = (state) => list.filter((vf) => vf.state === state).length;
        return element('article', { class: 'pool', 'data-pool': pool },
            element('h3', {}, `${pool} `, element('span', { class: 'muted counts' },
                `${list.length} VF${list.length === 1 ? '' : 's'}: ${count('free')} free, ` +
                `${count('leased')} leased, ${count('in-use')} in use`)),
            element('table', {},
                element('thead', {}, element('tr', {}, ...['Address', 'State', 'Domain', 'Job', 'Alias',
                                                           'Lease ends'].map((h) => element('th', {}, h)))),
                element('tbody', {}, ...list.map((vf) =>
                    element('tr', { 'data-address': vf.address, 'data-state': vf.state },
                        element('td', {}, vf.address),
                        element('td', {}, element('span', { class: `vf vf-${vf.state}` }, vf.state)),
                        element('td', {}, vf.domain || ''),
                        element('td', {}, vf.job || ''),
                        element('td', {}, vf.alias || ''),
                        element('td', {}, vf.expires_at ? when(vf.expires_at) : ''))))));
    });
    $('pools').replaceChildren(...sections);
    $('vfs-none').hidden = sections.length > 0;
}

// --- the daemon, and the refresh ----------------------------------------------

async function renderDaemon() {
    const version = await get('version');
    let health;
    try {
        health = await get('health');
    } catch (error) {
        if (error instanceof Unauthorized)
            throw error;
        health = { status: 'degraded', problem: error.message };
    }
    const libvirt = version.libvirt.hypervisor ? `, ${version.libvirt.hypervisor}` : '';
    $('daemon').textContent = `migd ${version.version} (API ${version.api}), libvirt ` +
        `${version.libvirt.library}${libvirt}: ${health.problem || health.status}`;
    $('daemon').dataset.status = health.status;
}

async function refresh() {
    clearTimeout(refreshTimer);
    if (waitingForToken)
        return;
    try {
        await renderDaemon();
        const [records, vfs] = await Promise.all([listMigrations(), get('vfs')]);
        jobs.clear();
        for (const job of records) {
            jobs.set(job.id, job);
            if (!FINAL.has(job.state) && !live.has(job.id))
                follow(job);
        }
        renderVfs(vfs.vfs);
        render();
        showProblem(null);
        document.body.dataset.loaded = 'true';
    } catch (error) {
        if (error instanceof Unauthorized) {
            askForToken(error.message);
            return;
        }
        showProblem(`migd does not answer as it should: ${error.message}; trying again.`);
    }
    refreshTimer = setTimeout(refresh, REFRESH_MS);
}

function askForToken(why) {
    waitingForToken = true;
    $('token-why').textContent = `${why} Type the token to read on.`;
    $('token-form').hidden = false;
    $('token').focus();
}

$('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setToken($('token').value.trim());
    $('token').value = '';
    $('token-form').hidden = true;
    waitingForToken = false;
    refresh();
});

window.addEventListener('hashchange', render);
// Charts of jobs in flight grow with the clock, between events too.
setInterval(() => { if (live.size) render(); }, 1000);
refresh();
