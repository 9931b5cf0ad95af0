/**
 * Who is asking, for limits on clients that have no account yet (sockets, provisioning addresses,
 * registrations, upload bytes): the peer address of the TCP connection. `X-Forwarded-For` is read only
 * when the relay is told it sits behind a proxy (`trustProxy`) — otherwise anyone could pick a new
 * "address" per request by changing a header. IPv6 peers are grouped by /64, the smallest block a
 * host is normally given, so one host cannot count as 2^64 remotes.
 */
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';

/** The /64 prefix of an IPv6 address, in full form (`2001:db8:0:0::/64`). */
function ipv6Prefix(address: string): string {
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** The key limits use for one peer address. */
export function remoteKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  return isIPv6(address) ? ipv6Prefix(address) : address;
}

/**
 * The requesting remote. Behind a trusted proxy the address is the last `X-Forwarded-For` entry —
 * the one that proxy appended; entries before it are whatever the client sent.
 */
export function remoteOf(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const value = Array.isArray(header) ? header.join(',') : header;
    const last = value?.split(',').pop()?.trim();
    if (last) return remoteKey(last);
  }
  return remoteKey(req.socket.remoteAddress);
}

/**
 * Live things counted per remote and in total (open sockets, open provisioning addresses, bytes of
 * request bodies being read). `take` refuses, counting nothing, when either cap would be passed.
 */
export class RemoteCounter {
  readonly #perRemote = new Map<string, number>();
  #total = 0;

  constructor(
    readonly maxTotal: number,
    readonly maxPerRemote: number,
  ) {}

  get total(): number {
    return this.#total;
  }

  perRemote(remote: string): number {
    return this.#perRemote.get(remote) ?? 0;
  }

  /** 'total' or 'remote' when `amount` more would pass that cap (nothing counted), else undefined. */
  take(remote: string, amount = 1): 'total' | 'remote' | undefined {
    const mine = this.#perRemote.get(remote) ?? 0;
    if (this.#total + amount > this.maxTotal) return 'total';
    if (mine + amount > this.maxPerRemote) return 'remote';
    this.#perRemote.set(remote, mine + amount);
    this.#total += amount;
    return undefined;
  }

  release(remote: string, amount = 1): void {
    const mine = this.#perRemote.get(remote) ?? 0;
    const freed = Math.min(mine, amount);
    if (mine - freed <= 0) this.#perRemote.delete(remote);
    else this.#perRemote.set(remote, mine - freed);
    this.#total -= freed;
  }
}
