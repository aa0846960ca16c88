// A job's timeline as an SVG chart: its phases (the record's state entries)
// on a time axis from its creation, and below them the no-VF window, the
// pause and the downtime, each where the record puts it.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const FINAL = new Set(['completed', 'failed', 'cancelled']);
const WIDTH = 960;
const LABELS = 120;         // the left column, for the rows' names
const PLOT = WIDTH - LABELS - 24;
const ROW = 26;
const GAP = 10;

function node(name, attrs, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {}))
        element.setAttribute(key, value);
    if (text !== undefined)
        element.textContent = text;
    return element;
}

// The chart works in ms since the job's creation: each timeline entry's
// t_ms, and the record's moments (dest_resumed_at) put on the timeline's
// own clock, whose zero is its first entry's "at" less its t_ms.
function clockZero(job) {
    const first = (job.timeline || [])[0];
    return first ? Date.parse(first.at) - first.t_ms : Date.parse(job.created_at);
}

export function formatMs(value) {
    if (value === null || value === undefined || Number.isNaN(value))
        return '—';
    return value < 10000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}

// [{state, start, end}]: each state entry lasts until the next; a final
// state is a moment, not a phase.
export function phases(job, end) {
    const entries = (job.timeline || []).filter((e) => e.kind === 'state');
    const list = [];
    entries.forEach((e, i) => {
        if (FINAL.has(e.state))
            return;
        const next = entries[i + 1];
        list.push({ state: e.state, start: e.t_ms, end: next ? next.t_ms : end });
    });
    return list;
}

// The first timeline entry for which @test holds, or null.
function entry(job, test) {
    return (job.timeline || []).find(test) || null;
}

// The no-VF window starts with the first unplug request, the first note of
// the unplugging phase (src-nic-unplug.c starts its clock there), and lasts
// nics.no_vf_window_ms. A job in flight whose VFs are out has it open.
function noVfWindow(job, end) {
    const nics = job.nics || {};
    const first = entry(job, (e) => e.state === 'unplugging' && e.kind !== 'state') ||
                  entry(job, (e) => e.state === 'unplugging');
    if (!first)
        return null;
    const start = first.t_ms;
    if (typeof nics.no_vf_window_ms === 'number')
        return { start, end: start + nics.no_vf_window_ms, length: nics.no_vf_window_ms };
    const open = !FINAL.has(job.state) && job.state !== 'verifying';
    return open ? { start, end, length: end - start, open: true } : null;
}

// The pause (strategy pause) ends when the destination answers that the
// guest runs there, and lasts nics.paused_ms.
function pauseWindow(job, at) {
    const nics = job.nics || {};
    if (typeof nics.paused_ms !== 'number')
        return null;
    const resumed = entry(job, (e) => e.message.startsWith('the destination resumed the guest'));
    const end = resumed ? resumed.t_ms : at((job.result || {}).dest_resumed_at);
    return Number.isNaN(end) ? null : { start: end - nics.paused_ms, end, length: nics.paused_ms };
}

// The downtime libvirt reports ends when the guest resumed on the destination.
function downtimeWindow(job, at) {
    const result = job.result || {};
    const end = at(result.dest_resumed_at);
    if (typeof result.downtime_ms !== 'number' || Number.isNaN(end))
        return null;
    return { start: end - result.downtime_ms, end, length: result.downtime_ms };
}

// A step between the axis' ticks that gives about six of them.
function tickStep(span) {
    const steps = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 30000, 60000,
                   120000, 300000, 600000, 1800000, 3600000];
    return steps.find((s) => span / s <= 8) || steps[steps.length - 1];
}

// The chart of @job at @nowMs (the end of a job in flight), and the figures
// it shows, as sentences for beside it.
export function drawTimeline(job, nowMs) {
    const zero = clockZero(job);
    const at = (moment) => (moment ? Date.parse(moment) - zero : NaN);
    const entries = job.timeline || [];
    const last = entries.length ? entries[entries.length - 1].t_ms : 0;
    // A job in flight lasts until now, and at least until its last entry.
    const end = FINAL.has(job.state) ? last : Math.max(nowMs - zero, last);
    const span = Math.max(end, 1);
    const x = (t) => LABELS + Math.min(Math.max(t, 0), end) / span * PLOT;
    const rows = [{ key: 'phases', name: 'phases', bars: phases(job, end).map((p) => ({
        cls: `phase phase-${p.state}`, state: p.state, start: p.start, end: p.end,
        label: p.state, title: `${p.state}: ${formatMs(p.end - p.start)}` })) }];
    const extra = [
        ['no VF', 'no-vf', noVfWindow(job, end)],
        ['paused', 'paused', pauseWindow(job, at)],
        ['downtime', 'downtime', downtimeWindow(job, at)],
    ];
    for (const [name, cls, w] of extra) {
        if (w)
            rows.push({ key: cls, name, bars: [{ cls: cls + (w.open ? ' open' : ''), start: w.start, end: w.end,
                                       label: `${name} ${formatMs(w.length)}${w.open ? ' (open)' : ''}`,
                                       title: `${name}: ${formatMs(w.length)}` }] });
    }
    const height = rows.length * (ROW + GAP) + 30;
    const svg = node('svg', { viewBox: `0 0 ${WIDTH} ${height}`, class: 'timeline-chart',
                              role: 'img', 'aria-label': `timeline of ${job.domain}` });
    rows.forEach((row, i) => {
        const y = i * (ROW + GAP);
        const g = node('g', { class: `row row-${row.key}` });
        g.append(node('text', { x: 0, y: y + ROW * 0.68, class: 'row-name' }, row.name));
        for (const bar of row.bars) {
            const left = x(bar.start);
            const width = Math.max(x(bar.end) - left, 2);
            const rect = node('rect', { x: left.toFixed(1), y, width: width.toFixed(1), height: ROW,
                                        class: bar.cls });
            if (bar.state)
                rect.dataset.state = bar.state;
            rect.append(node('title', {}, bar.title));
            g.append(rect);
            // A label fits inside a wide bar; beside a narrow one, when there is room.
            const fits = width > bar.label.length * 7 + 6;
            if (fits || row.key !== 'phases') {
                const tx = fits ? left + width / 2 : Math.min(left + width + 4, WIDTH - 4);
                const anchor = fits ? 'middle' : tx >= WIDTH - 4 ? 'end' : 'start';
                g.append(node('text', { x: tx.toFixed(1), y: y + ROW * 0.68, 'text-anchor': anchor,
                                        class: fits ? 'bar-label' : 'bar-label beside' },
                              bar.label));
            }
        }
        svg.append(g);
    });
    const axisY = rows.length * (ROW + GAP);
    const axis = node('g', { class: 'axis' });
    axis.append(node('line', { x1: LABELS, x2: LABELS + PLOT, y1: axisY, y2: axisY }));
    const step = tickStep(span);
    for (let t = 0; t <= span; t += step) {
        const tx = LABELS + t / span * PLOT;
        axis.append(node('line', { x1: tx, x2: tx, y1: axisY, y2: axisY + 5 }));
        axis.append(node('text', { x: tx, y: axisY + 18, 'text-anchor': 'middle' },
                         step < 1000 ? `${(t / 1000).toFixed(step < 100 ? 2 : 1)} s` : `${t / 1000} s`));
    }
    svg.append(axis);
    const figures = extra.map(([name, , w]) => `${name === 'no VF' ? 'no-VF window' : name} ` +
                                               (w ? formatMs(w.length) + (w.open ? ' so far' : '') : '—'));
    figures.push(`${FINAL.has(job.state) ? 'took' : 'running for'} ${formatMs(end)}`);
    return { svg, figures };
}
