// config/istio/bookinfo-reviews.yaml end to end: reviews v2 -> v3 at 90/10.
import t from 'tap';
import { runExampleSuite } from './istio-example-suite';

runExampleSuite(t, {
  file: 'bookinfo-reviews.yaml',
  names: { se: 'reviews', dr: 'reviews', vs: 'reviews' },
  fqdn: 'reviews.default.svc.cluster.local',
  port: 9080,
  defaultReq: { host: 'reviews:9080', path: '/reviews/1' },
  split: { 'reviews/v2': 90, 'reviews/v3': 10 },
  routes: [
    // No header route in this example: the FQDN and the short name reach the same split, never v1.
    { name: 'v1 is never picked (FQDN host)', req: { host: 'reviews.default.svc.cluster.local', headers: { 'x-e2e-only': 'no' } }, label: 'reviews/v2|reviews/v3' },
  ],
  reweight: [['v2', 40, 'reviews/v2'], ['v3', 60, 'reviews/v3']],
});
