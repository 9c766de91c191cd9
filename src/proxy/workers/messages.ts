// What the main thread and data-plane worker threads say to each other (structured-cloned values).

import type { ProxySnapshot } from '../../config/snapshot-types.ts';
import type { RegistryDump } from '../../lib/metrics.ts';
import type { Credentials } from '../transport/mesh-tls.ts';
import type { FateView } from '../observe/fate.ts';
import type { TapQuery, TapRequestEvent } from '../../config/tap.ts';

/** Which fates the main thread's admin listener asks a worker for: by request id, or the latest. */
export type FateQuery = { readonly requestId: string } | { readonly limit: number; readonly failedOnly: boolean };

export type ToWorker =
  | { readonly type: 'snapshot'; readonly snapshot: ProxySnapshot }
  | { readonly type: 'credentials'; readonly credentials: Credentials }
  | { readonly type: 'metrics'; readonly id: number }
  | { readonly type: 'fates'; readonly id: number; readonly query: FateQuery }
  | { readonly type: 'tap-open'; readonly tap: number; readonly query: TapQuery }
  | { readonly type: 'tap-close'; readonly tap: number }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready'; readonly outboundPort: number; readonly inboundPort: number | undefined }
  | { readonly type: 'metrics'; readonly id: number; readonly dump: RegistryDump }
  | { readonly type: 'fates'; readonly id: number; readonly items: readonly FateView[] }
  | { readonly type: 'tap-event'; readonly tap: number; readonly event: TapRequestEvent }
  | { readonly type: 'tap-dropped'; readonly tap: number; readonly dropped: number }
  | { readonly type: 'apply-failed'; readonly version: string; readonly message: string }
  | { readonly type: 'closed' };
