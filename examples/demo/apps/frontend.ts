// Demo app `frontend`: the edge of frontend → catalog → reviews. GET / renders a product page and
// GET /api/product/:id passes catalog's JSON through; both call `http://catalog/...` via the mesh.

import { sendJson, sendText, serve } from './http-app.ts';
import { failureReason, meshGet } from './mesh-client.ts';

const CATALOG_URL = process.env.CATALOG_URL ?? 'http://catalog';

interface Review {
  readonly reviewer?: string;
  readonly text?: string;
  readonly stars?: number;
}
interface Product {
  readonly id?: string;
  readonly name?: string;
  readonly price?: number;
  readonly description?: string;
  readonly reviews?: readonly Review[] | null;
  readonly reviewsVersion?: string;
  readonly reviewsInstance?: string;
  readonly reviewsError?: { readonly status?: number; readonly reason: string };
  readonly catalogInstance?: string;
}

interface CatalogReply {
  readonly status: number;
  readonly body: string;
  readonly contentType: string;
  readonly weftReason: string | null;
}

async function callCatalog(id: string): Promise<CatalogReply> {
  try {
    const r = await meshGet(`${CATALOG_URL}/products/${encodeURIComponent(id)}`, 5_000);
    return { status: r.status, body: r.body, contentType: r.header('content-type') ?? 'application/json', weftReason: r.header('x-weft-reason') ?? null };
  } catch (err) {
    return { status: 502, body: JSON.stringify({ error: `catalog unreachable: ${failureReason(err)}` }) + '\n', contentType: 'application/json', weftReason: null };
  }
}

const escape = (s: unknown): string =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function page(reply: CatalogReply): string {
  let product: Product | undefined;
  try {
    product = reply.status === 200 ? (JSON.parse(reply.body) as Product) : undefined;
  } catch {
    product = undefined;
  }
  let main: string;
  if (!product) {
    main = `<p class="err">catalog answered ${reply.status}${reply.weftReason ? ` (x-weft-reason: ${escape(reply.weftReason)})` : ''}</p><pre>${escape(reply.body)}</pre>`;
  } else {
    const reviews = product.reviews
      ? product.reviews.length
        ? `<ul>${product.reviews.map((r) => `<li>${r.stars !== undefined ? `<span class="stars">${'★'.repeat(r.stars)}${'☆'.repeat(5 - r.stars)}</span> ` : ''}“${escape(r.text)}” — ${escape(r.reviewer)}</li>`).join('')}</ul>`
        : '<p>No reviews yet.</p>'
      : `<p class="err">Reviews are unavailable right now${product.reviewsError ? `: ${escape(product.reviewsError.reason)}` : ''}.</p>`;
    main = `<h1>${escape(product.name)}</h1>
<p>${escape(product.description)}</p>
<p class="price">$${escape(product.price)}</p>
<h2>Reviews</h2>
${reviews}
<p class="meta">served by catalog <b>${escape(product.catalogInstance)}</b>, reviews <b>${escape(product.reviewsVersion ?? '—')}</b> (${escape(product.reviewsInstance ?? '—')}) — reload to see the mesh balance</p>`;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>weft demo shop</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
.stars{color:#d4a017}.price{font-size:1.3rem;font-weight:600}.meta{color:#666;font-size:.85rem;margin-top:2rem}.err{color:#b00}</style>
</head><body>
${main}
</body></html>
`;
}

serve('frontend', async (req, res, url) => {
  if (req.method === 'GET' && url.pathname === '/') {
    const reply = await callCatalog(url.searchParams.get('id') ?? '1');
    return sendText(res, reply.status === 200 ? 200 : 502, 'text/html; charset=utf-8', page(reply));
  }
  const match = /^\/api\/product\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'GET' && match) {
    const reply = await callCatalog(decodeURIComponent(match[1]));
    const headers: Record<string, string | number> = { 'content-type': reply.contentType, 'content-length': Buffer.byteLength(reply.body) };
    if (reply.weftReason) headers['x-weft-reason'] = reply.weftReason;
    res.writeHead(reply.status, headers);
    return void res.end(reply.body);
  }
  sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
});
