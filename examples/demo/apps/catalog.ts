// Demo app `catalog`: the middle of frontend → catalog → reviews. It calls `http://reviews/...` by
// plain name through its sidecar (HTTP_PROXY) and degrades to `reviews: null` with a reason.

import { sendJson, serve } from './http-app.ts';
import { failureReason, meshGet, type MeshResponse } from './mesh-client.ts';

const PRODUCTS: Readonly<Record<string, { readonly name: string; readonly price: number; readonly description: string }>> = {
  '1': { name: 'Loom 3000', price: 1299, description: 'A table loom for the serious weaver.' },
  '2': { name: 'Shuttle Pro', price: 49, description: 'Glides through the shed without a snag.' },
  '3': { name: 'Heddle Set', price: 89, description: 'Two hundred heddles, evenly spaced.' },
  '4': { name: 'Warping Board', price: 159, description: 'Measure a warp of up to twelve yards.' },
  '5': { name: 'Bobbin Winder', price: 35, description: 'Fills a bobbin in seconds.' },
};

const instance = process.env.INSTANCE ?? 'catalog';
const REVIEWS_URL = process.env.REVIEWS_URL ?? 'http://reviews';

interface ReviewsResult {
  readonly reviews: unknown;
  readonly reviewsVersion?: string;
  readonly reviewsInstance?: string;
  readonly reviewsError?: { readonly status?: number; readonly reason: string };
}

async function fetchReviews(id: string): Promise<ReviewsResult> {
  let response: MeshResponse;
  try {
    response = await meshGet(`${REVIEWS_URL}/reviews/${encodeURIComponent(id)}`, 3_000);
  } catch (err) {
    return { reviews: null, reviewsError: { reason: failureReason(err) } };
  }
  // The sidecar names its own failures in x-weft-reason (no-healthy-endpoints, upstream-reset, ...).
  const weftReason = response.header('x-weft-reason');
  let body: { reviews?: unknown; version?: string; instance?: string; error?: unknown } | undefined;
  try {
    body = JSON.parse(response.body) as typeof body;
  } catch {
    body = undefined;
  }
  if (response.status !== 200 || !body) {
    const reason = weftReason ?? (typeof body?.error === 'string' ? body.error : `reviews answered ${response.status}`);
    return { reviews: null, reviewsError: { status: response.status, reason } };
  }
  return { reviews: body.reviews ?? null, reviewsVersion: body.version, reviewsInstance: body.instance };
}

serve(`catalog (${instance})`, async (req, res, url) => {
  const match = /^\/products\/([^/]+)$/.exec(url.pathname);
  if (req.method !== 'GET' || !match) return sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
  const id = decodeURIComponent(match[1]);
  const product = PRODUCTS[id];
  if (!product) return sendJson(res, 404, { error: `no product ${id}`, catalogInstance: instance });
  const reviews = await fetchReviews(id);
  if (reviews.reviewsError) console.log(`catalog ${instance}: reviews for product ${id} failed: ${reviews.reviewsError.reason}`);
  sendJson(res, 200, { id, ...product, ...reviews, catalogInstance: instance });
});
