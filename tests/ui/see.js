// Opens migd's status page in headless Chromium (Debian's, driven by
// playwright-core) and prints, as JSON, what a person sees there: the
// daemon line, the migrations in flight, the recent ones, the selected
// job's chart, the VFs per pool, and every error the browser reported
// (a Content-Security-Policy violation among them). Saves a screenshot.
//
//   node see.js look URL SCREENSHOT [JOB]
//       the page once loaded; with JOB, after a click on its row
//   node see.js follow URL SCREENSHOT DOMAIN TIMEOUT_S
//       waits for a migration of DOMAIN in flight, notes each state and
//       progress its card shows, until it is listed among the recent ones;
//       then clicks its row, as look does. Says "loaded" on stderr once the
//       page shows migd's state, and "in flight JOB" when it first sees the
//       card: a test may start the migration, or end it, on those.
//
// With SEE_TOKEN set, a token the page asks for is typed in and sent; what
// the page said when it asked is in "asked".
'use strict';

const { chromium } = require('playwright-core');

const [command, url, screenshot, arg, timeoutText] = process.argv.slice(2);

// What the page shows, read from its rendered text and its chart's shapes.
function seen() {
    const text = (e) => (e ? e.innerText.trim() : null);
    const box = (e) => {
        const b = e.getBoundingClientRect();
        return { x: Math.round(b.x), width: Math.round(b.width) };
    };
    const detail = document.getElementById('detail');
    const chart = detail.querySelector('svg');
    const bar = (cls) => {
        const rect = chart && chart.querySelector(`rect.${cls}`);
        return rect ? { ...box(rect), title: rect.textContent,
                        label: rect.nextElementSibling ? rect.nextElementSibling.textContent : null } : null;
    };
    return {
        daemon: text(document.getElementById('daemon')),
        problem: document.getElementById('problem').hidden ? null : text(document.getElementById('problem')),
        inFlight: [...document.querySelectorAll('#in-flight-list article')].map((card) => ({
            job: card.dataset.job,
            title: text(card.querySelector('h3')),
            state: text(card.querySelector('.state')),
            percent: card.querySelector('progress').value,
            progress: text(card.querySelector('.progress-line')),
        })),
        recent: [...document.querySelectorAll('#recent-table tbody tr')].map((row) => ({
            job: row.dataset.job,
            cells: [...row.cells].map((c) => c.innerText.trim()),
        })),
        detail: detail.hidden ? null : {
            job: detail.dataset.job,
            title: text(document.getElementById('detail-title')),
            summary: text(document.getElementById('detail-summary')),
            figures: text(document.getElementById('detail-figures')),
            rows: chart ? [...chart.querySelectorAll('.row-name')].map((t) => t.textContent) : [],
            phases: chart ? [...chart.querySelectorAll('rect.phase')].map((r) => ({
                state: r.dataset.state, title: r.textContent, ...box(r) })) : [],
            noVf: bar('no-vf'),
            paused: bar('paused'),
            downtime: bar('downtime'),
        },
        pools: [...document.querySelectorAll('#pools article')].map((pool) => ({
            title: text(pool.querySelector('h3')),
            vfs: [...pool.querySelectorAll('tbody tr')].map((row) =>
                [...row.cells].map((c) => c.innerText.trim())),
        })),
    };
}

// In the page: every change of a card of @domain in flight, as it shows.
function noteCards(domain) {
    window.migdSamples = [];
    const note = () => {
        for (const card of document.querySelectorAll('#in-flight-list article')) {
            if (!card.querySelector('h3').innerText.startsWith(domain + ' '))
                continue;
            const sample = { job: card.dataset.job, title: card.querySelector('h3').innerText,
                             state: card.querySelector('.state').innerText,
                             percent: card.querySelector('progress').value,
                             last: card.querySelector('.last-entry').innerText };
            const last = window.migdSamples[window.migdSamples.length - 1];
            if (!last || last.state !== sample.state || last.percent !== sample.percent)
                window.migdSamples.push(sample);
        }
    };
    new MutationObserver(note).observe(document.getElementById('in-flight-list'),
                                       { childList: true, subtree: true });
    note();
}

async function showJob(page, job) {
    await page.click(`#recent-table tr[data-job="${job}"]`);
    await page.waitForSelector(`#detail[data-job="${job}"]`);
}

async function main() {
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        // As root, Chromium runs only without its sandbox.
        args: process.getuid() === 0 ? ['--no-sandbox'] : [],
    });
    const errors = [];
    const requests = new Set();     // every origin the page asked
    try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('request', (r) => requests.add(new URL(r.url()).origin));
        page.on('requestfailed', (r) => errors.push(`${r.url()}: ${r.failure().errorText}`));
        await page.goto(url);
        await page.waitForSelector('body[data-loaded], #token-form:not([hidden])');
        let asked = null;
        if (await page.isVisible('#token-form') && process.env.SEE_TOKEN) {
            asked = await page.innerText('#token-why');
            await page.fill('#token', process.env.SEE_TOKEN);
            await page.click('#token-form button[type=submit]');
        }
        await page.waitForSelector('body[data-loaded]');
        let samples;
        if (command === 'follow') {
            const timeout = Number(timeoutText) * 1000;
            await page.evaluate(noteCards, arg);
            process.stderr.write('loaded\n');
            await page.waitForFunction(() => window.migdSamples.length > 0, null, { timeout });
            const job = await page.evaluate(() => window.migdSamples[0].job);
            process.stderr.write(`in flight ${job}\n`);
            await page.waitForSelector(`#recent-table tr[data-job="${job}"]`, { timeout });
            samples = await page.evaluate(() => window.migdSamples);
            await showJob(page, job);
        } else if (arg) {
            await showJob(page, arg);
        }
        await page.screenshot({ path: screenshot, fullPage: true });
        console.log(JSON.stringify({ ...await page.evaluate(seen), asked, samples, errors,
                                       origins: [...requests] }, null, 1));
    } finally {
        await browser.close();
    }
}

main().catch((error) => {
    console.error(`see.js: ${error.message}`);
    process.exit(1);
});
