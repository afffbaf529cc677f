// Test helpers: a RequestView built from plain data, and a header map that records mutations.

import type { RequestView, RequestViewExtras } from '../../src/route/types';
import type { HeaderMutationTarget } from '../../src/route/header-parser';

export interface RequestInit extends RequestViewExtras {
  authority?: string;
  path?: string;
  method?: string;
  scheme?: string;
  random?: number;
  /** Each entry is one header line as sent; names are lower-cased. */
  headers?: readonly (readonly [string, string])[];
}

export class TestRequest implements RequestView, RequestViewExtras {
  readonly authority: string;
  readonly path: string;
  readonly method: string;
  readonly scheme: string;
  readonly random: number;
  readonly #headers: Map<string, string[]>;
  readonly downstreamRemoteIp?: string;
  readonly downstreamRemotePort?: number;
  readonly downstreamLocalIp?: string;
  readonly downstreamLocalPort?: number;
  readonly protocol?: string;
  readonly dynamicMetadata?: Readonly<Record<string, unknown>>;
  readonly peerCertificatePresented?: boolean;
  readonly peerCertificateValidated?: boolean;

  constructor(init: RequestInit = {}) {
    this.authority = init.authority ?? 'example.com';
    this.path = init.path ?? '/';
    this.method = init.method ?? 'GET';
    this.scheme = init.scheme ?? 'http';
    this.random = init.random ?? 0;
    this.#headers = new Map();
    for (const [k, v] of init.headers ?? []) {
      const key = k.toLowerCase();
      const list = this.#headers.get(key);
      if (list === undefined) this.#headers.set(key, [v]);
      else list.push(v);
    }
    Object.assign(this, {
      downstreamRemoteIp: init.downstreamRemoteIp,
      downstreamRemotePort: init.downstreamRemotePort,
      downstreamLocalIp: init.downstreamLocalIp,
      downstreamLocalPort: init.downstreamLocalPort,
      protocol: init.protocol,
      dynamicMetadata: init.dynamicMetadata,
      peerCertificatePresented: init.peerCertificatePresented,
      peerCertificateValidated: init.peerCertificateValidated,
    });
  }

  headerValues(name: string): readonly string[] | undefined {
    return this.#headers.get(name);
  }
}

export function req(init: RequestInit = {}): TestRequest {
  return new TestRequest(init);
}

/** An ordered multi-map of headers: `entries` shows exactly what mutations did. */
export class TestHeaders implements HeaderMutationTarget {
  entries: [string, string][];
  constructor(entries: [string, string][] = []) {
    this.entries = entries.map(([k, v]) => [k.toLowerCase(), v]);
  }
  get(name: string): string | undefined {
    const hit = this.entries.find(([k]) => k === name);
    return hit === undefined ? undefined : hit[1];
  }
  set(name: string, value: string): void {
    const i = this.entries.findIndex(([k]) => k === name);
    this.remove(name);
    if (i === -1) this.entries.push([name, value]);
    else this.entries.splice(Math.min(i, this.entries.length), 0, [name, value]);
  }
  append(name: string, value: string): void {
    this.entries.push([name, value]);
  }
  remove(name: string): void {
    this.entries = this.entries.filter(([k]) => k !== name);
  }
  all(name: string): string[] {
    return this.entries.filter(([k]) => k === name).map(([, v]) => v);
  }
}
