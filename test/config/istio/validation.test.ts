// Validation as Istio's: each error names the file, the document (1-based, with kind and name), the
// field path and the problem; any error rejects the whole input (nothing is half-applied).

import t from 'tap';
import { translateIstio } from '../../../src/config/istio';

const SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: 19081}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {http: 19082}, labels: {version: v2}}
  - {address: 127.0.0.1, ports: {http: 19083}, labels: {version: v3}}
`;
const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
`;
const VS = (http: string): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
${http}`;

interface ErrorCase {
  name: string;
  text: string;
  /** Every pattern must match one of the errors. */
  errors: RegExp[];
}

const W = 'reviews.yaml: document 3 \\(VirtualService reviews\\): ';

const CASES: ErrorCase[] = [
  {
    name: 'weights must sum to 100',
    text: VS(`  - route:\n    - destination: {host: reviews, subset: v2}\n      weight: 80\n    - destination: {host: reviews, subset: v3}\n      weight: 10\n`),
    errors: [new RegExp(`^${W}spec\\.http\\[0\\]\\.route: weights sum to 90, must be 100$`)],
  },
  {
    name: 'unknown subset',
    text: VS(`  - route:\n    - destination: {host: reviews, subset: v4}\n`),
    errors: [new RegExp(`^${W}spec\\.http\\[0\\]\\.route\\[0\\]\\.destination\\.subset: subset "v4" is not defined by DestinationRule reviews \\(subsets: v1, v2, v3\\)$`)],
  },
  {
    name: 'regex must be valid RE2 (no back-references, no look-around)',
    text: VS(
      `  - match:\n    - headers:\n        cookie: {regex: "(a)\\\\1"}\n      uri: {regex: "^(?!/admin).*"}\n    route:\n    - destination: {host: reviews, subset: v1}\n`,
    ),
    errors: [
      new RegExp(`^${W}spec\\.http\\[0\\]\\.match\\[0\\]\\.headers\\.cookie\\.regex: invalid RE2 regex "\\(a\\)\\\\1"`),
      new RegExp(`^${W}spec\\.http\\[0\\]\\.match\\[0\\]\\.uri\\.regex: invalid RE2 regex`),
    ],
  },
  {
    name: 'missing destination host',
    text: VS(`  - route:\n    - destination: {subset: v1}\n`),
    errors: [new RegExp(`^${W}spec\\.http\\[0\\]\\.route\\[0\\]\\.destination\\.host: is required$`)],
  },
  {
    name: 'route, redirect or directResponse required; not two of them',
    text: VS(`  - name: empty\n  - redirect: {uri: /x}\n    directResponse: {status: 200}\n`),
    errors: [new RegExp(`^${W}spec\\.http\\[0\\]: one of route, redirect or directResponse is required$`), new RegExp(`^${W}spec\\.http\\[1\\]: only one of`)],
  },
  {
    name: 'typos are unknown fields (the API server rejects them too)',
    text: VS(`  - route:\n    - destination: {host: reviews, subset: v1}\n      weigth: 100\n`),
    errors: [new RegExp(`^${W}spec\\.http\\[0\\]\\.route\\[0\\]: unknown field "weigth"$`)],
  },
  {
    name: 'invalid durations, percentages, status codes',
    text: VS(
      `  - timeout: 10 seconds\n    fault:\n      abort: {httpStatus: 700, percentage: {value: 150}}\n    route:\n    - destination: {host: reviews, subset: v1}\n` +
        `  - match:\n    - uri: {exact: /r}\n    redirect: {uri: /x, redirectCode: 305}\n`,
    ),
    errors: [
      new RegExp(`^${W}spec\\.http\\[0\\]\\.timeout: invalid duration "10 seconds"`),
      new RegExp(`^${W}spec\\.http\\[0\\]\\.fault\\.abort\\.percentage: percentage must be a number between 0 and 100, got 150$`),
      new RegExp(`^${W}spec\\.http\\[0\\]\\.fault\\.abort\\.httpStatus: must be an HTTP status 200\\.\\.599, got 700$`),
      new RegExp(`^${W}spec\\.http\\[1\\]\\.redirect\\.redirectCode: must be one of 301, 302, 303, 307, 308, got 305$`),
    ],
  },
  {
    name: 'pick-mode annotation values',
    text: VS(`  - route:\n    - destination: {host: reviews, subset: v1}\n`).replace(
      'metadata: {name: reviews}',
      "metadata:\n  name: reviews\n  annotations: {weir.io/pick-mode: sticky}",
    ),
    errors: [new RegExp(`^${W}metadata\\.annotations\\["weir\\.io/pick-mode"\\]: sticky needs a key`)],
  },
];

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const r = translateIstio([{ file: 'reviews.yaml', text: `${SE}---\n${DR}---\n${c.text}` }], {});
    t.equal(r.value, undefined, 'nothing is produced when anything is wrong');
    const errors = r.errors ?? [];
    for (const re of c.errors) t.ok(errors.some((e) => re.test(e)), `an error matches ${re}\n${errors.join('\n')}`);
  });
}

t.test('DestinationRule, ServiceEntry and document-level errors carry their own document', async (t) => {
  const text = `${SE.replace('ports: {http: 19083}', 'ports: {grpc: 19083}')}---
${DR.replace('- {name: v3, labels: {version: v3}}', '- {name: v2, labels: {version: v3}}')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bad-lb}
spec:
  host: other
  trafficPolicy:
    loadBalancer: {simple: FASTEST}
    outlierDetection: {interval: soon}
---
apiVersion: networking.istio.io/v2
kind: VirtualService
metadata: {name: future}
spec: {hosts: [x]}
---
kind: [oops
`;
  const r = translateIstio([{ file: 'mixed.yaml', text }], {});
  const errors = r.errors ?? [];
  const expect = [
    /^mixed\.yaml: document 1 \(ServiceEntry reviews\): spec\.endpoints\[2\]\.ports\.grpc: endpoint port "grpc" is not defined by the ServiceEntry's ports$/,
    /^mixed\.yaml: document 2 \(DestinationRule reviews\): spec\.subsets\[2\]\.name: duplicate subset name "v2"$/,
    /^mixed\.yaml: document 3 \(DestinationRule bad-lb\): spec\.trafficPolicy\.loadBalancer\.simple: must be one of/,
    /^mixed\.yaml: document 3 \(DestinationRule bad-lb\): spec\.trafficPolicy\.outlierDetection\.interval: invalid duration "soon"/,
    /^mixed\.yaml: document 4 \(VirtualService future\): apiVersion: unsupported version "networking\.istio\.io\/v2"/,
    /^mixed\.yaml: document 5: invalid YAML/,
  ];
  for (const re of expect) t.ok(errors.some((e) => re.test(e)), `an error matches ${re}\n${errors.join('\n')}`);
});

t.test('an endpoint on weir\'s own listener is rejected (it would proxy to itself)', async (t) => {
  const text = SE.replace('ports: {http: 19081}', 'ports: {http: 9080}');
  const r = translateIstio([{ file: 'loop.yaml', text }], {});
  t.match(r.errors?.join('\n') ?? '', /loop\.yaml: document 1 \(ServiceEntry reviews\): spec\.endpoints: endpoint 127\.0\.0\.1:9080 is weir's own listener 127\.0\.0\.1:9080/);
  const elsewhere = translateIstio([{ file: 'loop.yaml', text }], { listen: { address: '127.0.0.1', port: 15001 } });
  t.equal(elsewhere.errors, undefined, 'fine once weir listens elsewhere');
});

t.test('errors from several files name their own file', async (t) => {
  const r = translateIstio(
    [
      { file: 'a/se.yaml', text: SE },
      { file: 'b/vs.yaml', text: `${DR}---\n${VS(`  - route:\n    - destination: {host: reviews, subset: nope}\n`)}` },
    ],
    {},
  );
  t.match(r.errors?.[0] ?? '', /^b\/vs\.yaml: document 2 \(VirtualService reviews\): spec\.http\[0\]\.route\[0\]\.destination\.subset:/);
});

t.test('a default sticky mode needs a key only where a route is weighted', async (t) => {
  const single = `${SE}---\n${DR}---\n${VS(`  - route:\n    - destination: {host: reviews, subset: v1}\n`)}`;
  t.equal(translateIstio([{ file: 'a.yaml', text: single }], { defaultPickMode: 'sticky' }).errors, undefined);
  const weighted = `${SE}---\n${DR}---\n${VS(`  - route:\n    - destination: {host: reviews, subset: v1}\n      weight: 50\n    - destination: {host: reviews, subset: v2}\n      weight: 50\n`)}`;
  const r = translateIstio([{ file: 'a.yaml', text: weighted }], { defaultPickMode: 'sticky' });
  t.match(r.errors?.join('\n') ?? '', /a\.yaml: document 3 \(VirtualService reviews\): metadata\.annotations: the default pick mode is sticky but no key is set/);
  const keyed = translateIstio([{ file: 'a.yaml', text: weighted }], { defaultPickMode: 'sticky', defaultStickyKey: { header: 'x-user' } });
  t.equal(keyed.errors, undefined);
});
