// What the status page asks migd: its GET endpoints, with the token the
// user typed (kept in this tab's sessionStorage) as "Authorization: Bearer".
// The event stream is read with fetch, not EventSource, which cannot send
// that header. Paths are relative to /ui/, so a proxy may mount migd deeper.
'use strict';

const TOKEN_KEY = 'migd-token';
const API = '../v1/';

export class Unauthorized extends Error {}

export function setToken(token) {
    if (token)
        sessionStorage.setItem(TOKEN_KEY, token);
    else
        sessionStorage.removeItem(TOKEN_KEY);
}

function headers() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { Authorization: 'Bearer ' + token } : {};
}

// The error envelope's sentence, or what is known without one.
async function failure(path, response) {
    let message = `GET ${path} answered ${response.status}`;
    try {
        const body = await response.json();
        if (body && body.error && body.error.message)
            message = body.error.message;
    } catch (e) {
        // not the envelope: the status says enough
    }
    return response.status === 401 ? new Unauthorized(message) : new Error(message);
}

export async function get(path) {
    const response = await fetch(API + path, { headers: headers(), cache: 'no-store' });
    if (!response.ok)
        throw await failure(path, response);
    return response.json();
}

// Every record migd keeps, oldest first, page after page.
export async function listMigrations() {
    const all = [];
    let cursor = null;
    do {
        const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const page = await get('migrations?limit=1000' + query);
        all.push(...page.migrations);
        cursor = page.next;
    } while (cursor);
    return all;
}

// One server-sent event frame: its name and its parsed data.
function parseFrame(frame) {
    let name = 'message';
    const data = [];
    for (const line of frame.split('\n')) {
        if (line.startsWith(':'))
            continue;       // a keepalive comment
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event')
            name = value;
        else if (field === 'data')
            data.push(value);
    }
    return data.length ? { name, data: JSON.parse(data.join('\n')) } : null;
}

// Follows GET /v1/migrations/ID/events: onEvent(name, data) for each of
// snapshot, timeline, progress and end; onClose(error or null) once, when
// the stream ends. Returns a function that stops following.
export function watch(id, onEvent, onClose) {
    const abort = new AbortController();
    const path = `migrations/${encodeURIComponent(id)}/events`;

    (async () => {
        const response = await fetch(API + path, { headers: headers(), signal: abort.signal });
        if (!response.ok)
            throw await failure(path, response);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
            const { value, done } = await reader.read();
            if (done)
                break;
            buffer += value.replace(/\r\n?/g, '\n');
            let end;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
                const event = parseFrame(buffer.slice(0, end));
                buffer = buffer.slice(end + 2);
                if (event)
                    onEvent(event.name, event.data);
            }
        }
    })().then(() => onClose(null),
               (error) => onClose(abort.signal.aborted ? null : error));
    return () => abort.abort();
}
