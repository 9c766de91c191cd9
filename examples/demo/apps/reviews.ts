// Demo app `reviews`: the leaf of the call chain frontend → catalog → reviews. Two versions run
// side by side (VERSION=v1 without stars, v2 with), so load balancing across them is visible.

import { sendJson, serve } from './http-app.ts';

interface Review {
  readonly reviewer: string;
  readonly text: string;
  readonly stars: number;
}

const REVIEWS: Readonly<Record<string, readonly Review[]>> = {
  '1': [
    { reviewer: 'Ada', text: 'Weaves requests together beautifully.', stars: 5 },
    { reviewer: 'Grace', text: 'Solid, though the shuttle is noisy.', stars: 4 },
  ],
  '2': [{ reviewer: 'Linus', text: 'Does what it says on the spool.', stars: 4 }],
  '3': [
    { reviewer: 'Barbara', text: 'Warp and weft, perfectly aligned.', stars: 5 },
    { reviewer: 'Ken', text: 'A little pricey.', stars: 3 },
  ],
  '4': [],
  '5': [{ reviewer: 'Margaret', text: 'Got me to the moon and back.', stars: 5 }],
};

const version = process.env.VERSION ?? 'v1';
const instance = process.env.INSTANCE ?? `reviews-${version}`;
const withStars = version !== 'v1';

serve(`reviews ${version} (${instance})`, (req, res, url) => {
  const match = /^\/reviews\/([^/]+)$/.exec(url.pathname);
  if (req.method !== 'GET' || !match) return sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
  const productId = decodeURIComponent(match[1]);
  const list = REVIEWS[productId];
  if (!list) return sendJson(res, 404, { error: `no product ${productId}`, version, instance });
  const reviews = list.map((r) => (withStars ? { reviewer: r.reviewer, text: r.text, stars: r.stars } : { reviewer: r.reviewer, text: r.text }));
  sendJson(res, 200, { productId, reviews, version, instance });
});
