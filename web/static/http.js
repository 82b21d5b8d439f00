// SPDX-License-Identifier: MIT
// Requests to the game's JSON API.

// GET `path` as JSON, never from the browser's cache. Throws on a network error, a
// timeout or an HTTP error (err.status, and the API's {"error": ...} as the message).
export async function getJson(path, timeoutMs = 5000) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const r = await fetch(path, { cache: 'no-store', signal: abort.signal });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      const err = new Error(body.error || `${path}: HTTP ${r.status}`);
      err.status = r.status;
      throw err;
    }
    return await r.json();
  } finally {
    clearTimeout(timer);
  }
}

// POST `body` as JSON; resolves to {status, body} whatever the status.
export async function postJson(path, body) {
  const r = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json().catch(() => ({})) };
}
