// Shared shapes of the Istio translator: the options a caller passes, and the parsed documents
// every stage works on. The wire shapes are Istio's (networking.istio.io, camelCase as in the CRDs).

/** Weighted-pick mode of a route (design.md, "The weighted-selection core"). */
export type PickMode = 'random' | 'sticky' | 'smooth';

/** Where a sticky pick takes its key from (route `metadata.filter_metadata.weir.sticky_key`). */
export type StickyKey = { cookie: string } | { header: string };

export interface IstioOptions {
  /**
   * Where weir listens. `address` defaults to 127.0.0.1 (local development). With `port`, one
   * listener on that port routes every service by Host; without it, one listener per HTTP service
   * port (istiod's outbound `0.0.0.0_<port>` listeners, bound to `address`).
   */
  listen?: { address: string; port?: number };
  /** Namespace of documents without `metadata.namespace`, and of the proxy (short-name domains). Default `default`. */
  namespace?: string;
  /** weir extension: pick mode of weighted routes whose VirtualService has no `weir.io/pick-mode` annotation. */
  defaultPickMode?: PickMode;
  /** Key for `defaultPickMode: sticky` when the VirtualService names none. */
  defaultStickyKey?: StickyKey;
}

/** One input file's text; `file` is used verbatim in messages. */
export interface IstioSource {
  file: string;
  text: string;
}

/** One Kubernetes document of a kind this translator reads. */
export interface IstioConfig {
  readonly kind: 'VirtualService' | 'DestinationRule' | 'ServiceEntry' | 'WorkloadEntry';
  readonly apiVersion: string;
  readonly name: string;
  readonly namespace: string;
  readonly annotations: { readonly [k: string]: string };
  readonly spec: { [key: string]: unknown };
  /** `reviews.yaml: document 2 (VirtualService reviews)`: the prefix of every message about it. */
  readonly where: string;
}

export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_LISTEN_ADDRESS = '127.0.0.1';
/** The DNS suffix istiod assumes for Kubernetes services (`--domain`). */
export const DOMAIN_SUFFIX = 'cluster.local';

export const ANNOTATION_PICK_MODE = 'weir.io/pick-mode';
export const ANNOTATION_STICKY_KEY = 'weir.io/sticky-key';
