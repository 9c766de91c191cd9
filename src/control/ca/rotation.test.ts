// The root rotation's state machine with an injected clock: phase 1 (new root trusted), phase 2
// (issued under the new root), phase 3 (old root retired), what each phase waits for, the deadline
// of a proxy that never comes back, and a control-plane restart at every step.

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../lib/clock.ts';
import { createLogger } from '../../lib/log.ts';
import { isWeftError } from '../../lib/errors.ts';
import { CertificateAuthority, ROTATION_CHECK_MS, ROTATION_SETTLE_MS, type TrustState } from './certificate-authority.ts';
import { splitPem } from './certificate-builder.ts';

const quiet = createLogger('test', () => {});
const TTL = 60;
const dirs: string[] = [];
const open: CertificateAuthority[] = [];
afterEach(async () => {
  for (const ca of open.splice(0)) await ca.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function newCa(clock: ManualClock, dataDir?: string): Promise<{ ca: CertificateAuthority; dataDir: string }> {
  if (!dataDir) {
    dataDir = mkdtempSync(join(tmpdir(), 'weft-rotation-'));
    dirs.push(dataDir);
  }
  const ca = await CertificateAuthority.open({ dataDir, clock, leafTtlSeconds: TTL, log: quiet });
  open.push(ca);
  return { ca, dataDir };
}

async function restart(ca: CertificateAuthority, clock: ManualClock, dataDir: string): Promise<CertificateAuthority> {
  await ca.close();
  open.splice(open.indexOf(ca), 1);
  return (await newCa(clock, dataDir)).ca;
}

const fingerprints = (bundle: string): string[] => splitPem(bundle).map((p) => new X509Certificate(p).fingerprint256);

/** A proxy's renewal: a fresh key, a new leaf; returns the leaf and what it chains to. */
async function renew(ca: CertificateAuthority, proxyId: string): Promise<{ leaf: X509Certificate; bundle: string[] }> {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issued = await ca.issue({ namespace: 'default', service: proxyId.split('-')[0]!, proxyId, publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string });
  return { leaf: new X509Certificate(issued.certificate), bundle: fingerprints(issued.trustBundle) };
}

function issuedBy(leaf: X509Certificate, bundle: string, fingerprint: string): boolean {
  const root = splitPem(bundle).map((p) => new X509Certificate(p)).find((c) => c.fingerprint256 === fingerprint)!;
  return leaf.checkIssued(root) && leaf.verify(root.publicKey);
}

test('a rotation moves through its phases as proxies renew, and ends with only the new root', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const { ca, dataDir } = await newCa(clock);
  const announced: TrustState[] = [];
  ca.onTrustChange((t) => announced.push(t));
  const [oldRoot] = fingerprints(ca.trustBundle());
  await renew(ca, 'web-1');
  await renew(ca, 'api-1');

  const started = await ca.rotate();
  assert.equal(started.phase, 'distributing');
  const [, newRoot] = fingerprints(ca.trustBundle());
  assert.ok(newRoot && newRoot !== oldRoot);
  assert.deepEqual(started.roots.map((r) => [r.fingerprint256, r.role, r.signing]), [[oldRoot, 'current', true], [newRoot, 'next', false]]);
  assert.deepEqual(started.rotation!.waitingFor, ['api-1', 'web-1']);
  assert.equal(announced.length, 1);
  assert.deepEqual(fingerprints(announced[0]!.trustBundle), [oldRoot, newRoot]);
  assert.equal(new X509Certificate(announced[0]!.issuer).fingerprint256, oldRoot, 'phase 1 still issues under the old root');
  await assert.rejects(ca.rotate(), (err: unknown) => isWeftError(err) && err.code === 'WEFT_ERR_CA_ROTATION_IN_PROGRESS');

  // Phase 1: a proxy that renews gets both roots and a leaf of the old one; the phase waits for the other.
  const web = await renew(ca, 'web-1');
  assert.deepEqual(web.bundle, [oldRoot, newRoot]);
  assert.ok(issuedBy(web.leaf, ca.trustBundle(), oldRoot!));
  await ca.checkRotation();
  assert.equal(ca.status().phase, 'distributing');
  assert.deepEqual(ca.status().rotation!.waitingFor, ['api-1']);
  await renew(ca, 'api-1');
  await ca.checkRotation();
  // The answer may still be on its way to api-1: the phase settles before it moves on.
  assert.equal(ca.status().phase, 'distributing');
  assert.deepEqual(ca.status().rotation!.waitingFor, []);
  clock.advance(ROTATION_SETTLE_MS);
  await ca.checkRotation();

  // Phase 2: leaves come from the new root; the old root stays trusted until no proxy holds its leaf.
  assert.equal(ca.status().phase, 'reissuing');
  assert.equal(announced.length, 2);
  assert.equal(new X509Certificate(announced[1]!.issuer).fingerprint256, newRoot);
  assert.deepEqual(ca.status().rotation!.waitingFor, ['api-1', 'web-1']);
  assert.equal(ca.rootNotAfter, new X509Certificate(announced[1]!.issuer).validToDate.getTime());
  const web2 = await renew(ca, 'web-1');
  assert.ok(issuedBy(web2.leaf, ca.trustBundle(), newRoot!));
  assert.deepEqual(web2.bundle, [oldRoot, newRoot]);
  await ca.checkRotation();
  assert.deepEqual(ca.status().rotation!.waitingFor, ['api-1']);
  await renew(ca, 'api-1');
  clock.advance(ROTATION_SETTLE_MS);
  await ca.checkRotation();

  // Phase 3: the old root is gone from the bundle and from the disk.
  assert.equal(ca.status().phase, 'idle');
  assert.equal(ca.status().rotation, undefined);
  assert.deepEqual(fingerprints(ca.trustBundle()), [newRoot]);
  assert.equal(announced.length, 3);
  assert.deepEqual(fingerprints(announced[2]!.trustBundle), [newRoot]);
  assert.deepEqual(fingerprints(readFileSync(join(dataDir, 'ca', 'ca-cert.pem'), 'utf8')), [newRoot]);
  for (const f of ['next-key.pem', 'next-cert.pem', 'rotation.json']) assert.equal(existsSync(join(dataDir, 'ca', f)), false, f);
  const after = await renew(ca, 'web-1');
  assert.deepEqual(after.bundle, [newRoot]);
  // The new root keeps signing after a restart, and another rotation can start.
  const again = await restart(ca, clock, dataDir);
  assert.deepEqual(fingerprints(again.trustBundle()), [newRoot]);
  assert.equal((await again.rotate()).phase, 'distributing');
});

test('a proxy that never renews holds a phase back only until its leaf expires', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const { ca } = await newCa(clock);
  await renew(ca, 'gone-1');
  clock.advance(10_000);
  const phases: string[] = [];
  ca.onTrustChange(() => phases.push(ca.status().phase));
  await ca.rotate();
  clock.advance(ROTATION_CHECK_MS * 5);
  await ca.checkRotation();
  assert.equal(ca.status().phase, 'distributing');
  assert.deepEqual(ca.status().rotation!.waitingFor, ['gone-1']);
  // Its leaf (TTL 60 s, issued 10 s before the rotation) expires 45 s from now.
  assert.equal(Date.parse(ca.status().rotation!.deadline), Date.UTC(2030, 0, 1) + TTL * 1000);
  clock.advance(44_000);
  await ca.checkRotation();
  assert.equal(ca.status().phase, 'distributing');
  clock.advance(1_000);
  await ca.checkRotation();
  // With no proxy holding an old leaf, phase 2 ends at once: nothing can present the old root.
  await ca.checkRotation();
  assert.deepEqual(phases, ['distributing', 'reissuing', 'idle']);
});

test('a CA from before leaf tracking waits one TTL, since it cannot know who holds what', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const { ca, dataDir } = await newCa(clock);
  await ca.close();
  open.pop();
  unlinkSync(join(dataDir, 'ca', 'leaves.json'));
  const reopened = (await newCa(clock, dataDir)).ca;
  const phases: string[] = [];
  reopened.onTrustChange(() => phases.push(reopened.status().phase));
  await reopened.rotate();
  await reopened.checkRotation();
  assert.equal(reopened.status().phase, 'distributing');
  assert.equal(Date.parse(reopened.status().rotation!.deadline), clock.now() + TTL * 1000);
  clock.advance(TTL * 1000 - 1);
  await reopened.checkRotation();
  assert.equal(reopened.status().phase, 'distributing');
  clock.advance(1);
  await reopened.checkRotation();
  await reopened.checkRotation();
  assert.deepEqual(phases, ['distributing', 'reissuing', 'idle']);
});

test('a restart in phase 1 and in phase 2 resumes the rotation where it was', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  let { ca, dataDir } = await newCa(clock);
  await renew(ca, 'web-1');
  await renew(ca, 'api-1');
  await ca.rotate();
  const bundle = ca.trustBundle();
  await renew(ca, 'web-1');

  ca = await restart(ca, clock, dataDir);
  assert.equal(ca.status().phase, 'distributing');
  assert.equal(ca.trustBundle(), bundle);
  assert.deepEqual(ca.status().rotation!.waitingFor, ['api-1'], 'who has the new root survives the restart');
  await renew(ca, 'api-1');
  clock.advance(ROTATION_SETTLE_MS);
  await ca.checkRotation();
  assert.equal(ca.status().phase, 'reissuing');
  const [, newRoot] = fingerprints(bundle);
  const web = await renew(ca, 'web-1');

  ca = await restart(ca, clock, dataDir);
  assert.equal(ca.status().phase, 'reissuing');
  assert.equal(ca.trustBundle(), bundle);
  assert.ok(issuedBy((await renew(ca, 'api-1')).leaf, bundle, newRoot!), 'still issuing under the new root');
  assert.ok(issuedBy(web.leaf, bundle, newRoot!));
  clock.advance(ROTATION_SETTLE_MS);
  await ca.checkRotation();
  assert.equal(ca.status().phase, 'idle');
  assert.deepEqual(fingerprints(ca.trustBundle()), [newRoot]);
});

test('a restart in the middle of retiring the old root finishes it', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const { ca, dataDir } = await newCa(clock);
  await ca.rotate();
  const [, newRoot] = fingerprints(ca.trustBundle());
  const rotation = JSON.parse(readFileSync(join(dataDir, 'ca', 'rotation.json'), 'utf8')) as Record<string, unknown>;
  await ca.close();
  open.pop();
  // As if the control plane died after recording phase 3 and moving the key, before the certificate.
  writeFileSync(join(dataDir, 'ca', 'rotation.json'), JSON.stringify({ ...rotation, phase: 'retiring' }));
  renameSync(join(dataDir, 'ca', 'next-key.pem'), join(dataDir, 'ca', 'ca-key.pem'));
  const reopened = (await newCa(clock, dataDir)).ca;
  assert.equal(reopened.status().phase, 'idle');
  assert.deepEqual(fingerprints(reopened.trustBundle()), [newRoot]);
  assert.ok(issuedBy((await renew(reopened, 'web-1')).leaf, reopened.trustBundle(), newRoot!));
});

test('a rotation that crashed before it was recorded leaves no trace', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const { ca, dataDir } = await newCa(clock);
  const bundle = ca.trustBundle();
  await ca.rotate();
  await ca.close();
  open.pop();
  unlinkSync(join(dataDir, 'ca', 'rotation.json'));
  const reopened = (await newCa(clock, dataDir)).ca;
  assert.equal(reopened.status().phase, 'idle');
  assert.equal(reopened.trustBundle(), bundle);
  assert.equal(existsSync(join(dataDir, 'ca', 'next-key.pem')), false);
});

test('the rotation checks itself on the clock, without being asked', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const { ca } = await newCa(clock);
  await renew(ca, 'web-1');
  await ca.rotate();
  clock.advance(TTL * 1000 + ROTATION_CHECK_MS);
  // The timer's check runs asynchronously: wait for it, not for time.
  while (ca.status().phase === 'distributing') await new Promise((r) => setImmediate(r));
  assert.equal(ca.status().phase, 'reissuing');
});

test('the new root has a name of its own, so the two roots of a bundle are told apart by name too', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const { ca } = await newCa(clock);
  await ca.rotate();
  const [oldRoot, newRoot] = splitPem(ca.trustBundle()).map((p) => new X509Certificate(p));
  assert.equal(oldRoot!.subject, 'O=weft\nCN=weft mesh root CA (weft.local)');
  assert.equal(newRoot!.subject, 'O=weft\nCN=weft mesh root CA (weft.local) 2030-01-01T00:00:00Z');
});

test('a damaged rotation state is refused with WEFT_ERR_CA_LOAD naming the file, and left as it was', async () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const { ca, dataDir } = await newCa(clock);
  await ca.rotate();
  await ca.close();
  open.pop();
  const path = join(dataDir, 'ca', 'rotation.json');
  for (const bad of ['{not json', '{"phase":"sideways","next":"x","startedAt":1,"phaseSince":1}']) {
    writeFileSync(path, bad);
    await assert.rejects(CertificateAuthority.open({ dataDir, clock, log: quiet }), (err: unknown) => isWeftError(err) && err.code === 'WEFT_ERR_CA_LOAD' && err.message.includes(path));
    assert.equal(readFileSync(path, 'utf8'), bad);
  }
});
