// The sidecar registers its instance with the control plane, heartbeats at a third of the TTL,
// registers again when the control plane forgot it (404 after a restart or removal), and
// deregisters on shutdown so callers stop picking it before it goes away.

import type { InstanceRegistration } from '../../config/catalog-types.ts';
import { createBackoff } from '../../lib/backoff.ts';
import { errorMessage } from '../../lib/errors.ts';
import { httpCall, type HttpCallResult } from '../../lib/http-call.ts';
import type { Logger } from '../../lib/log.ts';
import type { ControlAuth } from './control-auth.ts';
import type { ControlTarget } from './control-target.ts';

export interface RegistrationOptions {
  readonly controlUrl: string;
  /** Several control-plane replicas (`--control a,b`): calls go to the current one, and a replica that cannot be reached is reported. */
  readonly control?: ControlTarget;
  /** The sidecar's credential for each call (its certificate's proof). */
  readonly auth: ControlAuth;
  readonly registration: Omit<InstanceRegistration, 'labels' | 'weight' | 'deregisterAfterSeconds'> & Partial<InstanceRegistration>;
  readonly log: Logger;
  /**
   * Local check of the app before each heartbeat: while it fails, heartbeats are withheld so the
   * TTL marks the instance critical, even though the sidecar itself is fine.
   */
  readonly appAlive?: () => Promise<boolean>;
  /** After each successful registration (the first and every re-registration): the catalog starts its checks afresh. */
  readonly onRegistered?: () => void;
}

export interface RegistrationHandle {
  registered(): boolean;
  /** Removes the instance from the catalog; resolves even if the control plane is away. */
  deregister(): Promise<void>;
}

async function call(options: RegistrationOptions, method: string, path: string, body?: unknown): Promise<HttpCallResult> {
  const base = options.control?.current() ?? options.controlUrl;
  const url = new URL(path, base);
  const headers = await options.auth.headers(method, url.pathname + url.search);
  try {
    return await httpCall(url, { method, headers, json: body, timeoutMs: 5_000 });
  } catch (err) {
    // Unreachable (not an answer): the next attempt goes to another replica.
    options.control?.failed(base);
    throw err;
  }
}

export function startRegistration(options: RegistrationOptions): RegistrationHandle {
  const { log } = options;
  const reg = options.registration;
  const instancePath = `/v1/catalog/instances/${encodeURIComponent(reg.namespace)}/${encodeURIComponent(reg.service)}/${encodeURIComponent(reg.id)}`;
  const interval = Math.max(1, (reg.ttlSeconds || 30) / 3) * 1000;
  const backoff = createBackoff({ baseMs: 250, maxMs: Math.min(5_000, interval) });
  let isRegistered = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const schedule = (ms: number): void => {
    if (!stopped) timer = setTimeout(tick, ms);
  };

  const register = async (): Promise<void> => {
    const res = await call(options, 'POST', '/v1/catalog/instances', reg);
    if (!res.ok) throw new Error(`registration refused with ${res.status}: ${res.body.slice(0, 500)}`);
    if (!isRegistered) log.info('instance registered', { service: reg.service, id: reg.id });
    isRegistered = true;
    options.onRegistered?.();
  };

  let withholding = false;
  const tick = async (): Promise<void> => {
    try {
      if (options.appAlive && !(await options.appAlive())) {
        if (!withholding) log.warn('the app does not answer; withholding heartbeats until it does');
        withholding = true;
        schedule(interval);
        return;
      }
      if (withholding) log.info('the app answers again; heartbeats resume');
      withholding = false;
      if (!isRegistered) await register();
      else {
        const res = await call(options, 'PUT', `${instancePath}/heartbeat`);
        if (res.status === 404) {
          log.warn('control plane does not know this instance; registering again');
          isRegistered = false;
          await register();
        } else if (!res.ok) throw new Error(`heartbeat answered ${res.status}`);
      }
      backoff.reset();
      schedule(interval);
    } catch (err) {
      log.warn('registration or heartbeat failed; will retry', { err: errorMessage(err) });
      schedule(backoff.next());
    }
  };

  void tick();
  return {
    registered: () => isRegistered,
    async deregister() {
      stopped = true;
      clearTimeout(timer);
      try {
        await call(options, 'DELETE', instancePath);
        isRegistered = false;
        log.info('instance deregistered', { id: reg.id });
      } catch (err) {
        log.warn('could not deregister; the TTL will expire it', { err: errorMessage(err) });
      }
    },
  };
}
