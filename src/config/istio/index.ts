// weir's Istio config source: VirtualService, DestinationRule, ServiceEntry and WorkloadEntry YAML
// translated into the Envoy resources istiod produces.

export { translateIstio, istioVersion, virtualHostDomains, type IstioTranslation } from './translate-istio';
export { loadIstioFiles, expandIstioPaths } from './load-istio-files';
export { watchIstio, WATCH_DEBOUNCE_MS, type IstioWatch, type WatchIstioOptions } from './watch-istio';
export { toStaticBootstrap, type StaticBootstrapOptions } from './static-bootstrap';
export { startIstioSource, type IstioConfigSource, type IstioSourceHandlers } from './istio-source';
export type { IstioOptions, IstioSource, PickMode, StickyKey } from './types';
