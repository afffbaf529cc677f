// Regenerates weir's Envoy proto subset under proto/ from the full upstream definitions that
// @grpc/grpc-js-xds ships (devDependency). Run: `npx tsx proto/generate.ts` (see proto/README.md).
//
// Every message reachable from ROOTS is emitted with the upstream package, message name, field
// names, numbers, types, labels, oneofs and enum values, so type URLs and wire bytes are those of
// Envoy's data-plane-api. What is dropped: comments, options (validate, udpa, versioning), and the
// subtrees listed in CUT_TYPES / CUT_FIELDS (fields weir never reads; on the wire they become unknown
// fields, which protobuf decoders skip). test/xds/protos.test.ts checks every emitted field against
// upstream and round-trips sample resources encoded with the upstream definitions.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

const REPO = path.resolve(__dirname, '..');
const DEPS = path.join(REPO, 'node_modules/@grpc/grpc-js-xds/deps');
const INCLUDE = [
  path.join(REPO, 'node_modules/protobufjs'),
  path.join(DEPS, 'envoy-api'),
  path.join(DEPS, 'xds'),
  path.join(DEPS, 'googleapis'),
  path.join(DEPS, 'protoc-gen-validate'),
];
const OUT = path.join(REPO, 'proto');

export const UPSTREAM_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/admin/v3/config_dump.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
];

const ROOTS = [
  'envoy.service.discovery.v3.AggregatedDiscoveryService',
  'envoy.service.discovery.v3.DiscoveryRequest',
  'envoy.service.discovery.v3.DiscoveryResponse',
  'envoy.service.discovery.v3.DeltaDiscoveryRequest',
  'envoy.service.discovery.v3.DeltaDiscoveryResponse',
  'envoy.config.listener.v3.Listener',
  'envoy.config.route.v3.RouteConfiguration',
  'envoy.config.cluster.v3.Cluster',
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.extensions.filters.http.router.v3.Router',
  // Cluster typed_extension_protocol_options: HTTP/2 upstreams, idle timeouts (istiod sets it).
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  'envoy.admin.v3.ConfigDump',
  'envoy.admin.v3.BootstrapConfigDump',
  'envoy.admin.v3.ListenersConfigDump',
  'envoy.admin.v3.RoutesConfigDump',
  'envoy.admin.v3.ClustersConfigDump',
  'envoy.admin.v3.EndpointsConfigDump',
  'envoy.admin.v3.UpdateFailureState',
  'google.protobuf.Struct',
  'google.protobuf.Duration',
  'google.protobuf.Any',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
];

/**
 * Subtrees weir does not implement and that are large: dropped (a type listed here, or nested in
 * one, is never emitted, and fields of that type disappear). Prefix match on the full name.
 */
const CUT_TYPES = [
  // Bootstrap subsystems (weir reads node, static_resources, dynamic_resources, admin).
  'envoy.config.bootstrap.v3.Watchdog',
  'envoy.config.bootstrap.v3.LayeredRuntime',
  'envoy.config.bootstrap.v3.RuntimeLayer',
  'envoy.config.bootstrap.v3.Runtime',
  'envoy.config.bootstrap.v3.FatalAction',
  'envoy.config.bootstrap.v3.CustomInlineHeader',
  'envoy.config.bootstrap.v3.MemoryAllocatorManager',
  'envoy.config.bootstrap.v3.Bootstrap.ApplicationLogConfig',
  'envoy.config.bootstrap.v3.Bootstrap.DeferredStatOptions',
  'envoy.config.bootstrap.v3.Bootstrap.GrpcAsyncClientManagerConfig',
  'envoy.config.bootstrap.v3.Bootstrap.DynamicResources.',
  'envoy.config.bootstrap.v3.ClusterManager',
  'envoy.config.metrics.v3',
  'envoy.config.trace.v3',
  'envoy.config.overload.v3',
  'envoy.config.accesslog.v3.AccessLogFilter',
  'envoy.config.accesslog.v3.ComparisonFilter',
  'envoy.config.accesslog.v3.StatusCodeFilter',
  'envoy.config.accesslog.v3.DurationFilter',
  'envoy.config.accesslog.v3.RuntimeFilter',
  'envoy.config.accesslog.v3.AndFilter',
  'envoy.config.accesslog.v3.OrFilter',
  'envoy.config.accesslog.v3.HeaderFilter',
  'envoy.config.accesslog.v3.ResponseFlagFilter',
  'envoy.config.accesslog.v3.GrpcStatusFilter',
  'envoy.config.accesslog.v3.MetadataFilter',
  'envoy.config.accesslog.v3.LogTypeFilter',
  'envoy.config.accesslog.v3.ExtensionFilter',
  'envoy.config.accesslog.v3.NotHealthCheckFilter',
  'envoy.config.accesslog.v3.TraceableFilter',
  'envoy.extensions.transport_sockets.tls.v3', // TLS contexts arrive as typed Any in transport_socket
  'envoy.config.core.v3.HealthCheck', // active health checking: not implemented
  'envoy.config.core.v3.GrpcService.GoogleGrpc', // weir speaks envoy_grpc only
  'envoy.config.core.v3.EventServiceConfig',
  'envoy.config.core.v3.DnsResolutionConfig',
  'envoy.config.core.v3.DnsResolverOptions',
  'envoy.config.core.v3.TcpKeepalive',
  'envoy.config.core.v3.KeepaliveSettings',
  'envoy.config.core.v3.QuicProtocolOptions',
  'envoy.config.core.v3.QuicKeepAliveSettings',
  'envoy.config.core.v3.Http3ProtocolOptions',
  'envoy.config.core.v3.AlternateProtocolsCacheOptions',
  'envoy.config.core.v3.SchemeHeaderTransformation',
  'envoy.config.core.v3.ProxyProtocol',
  'envoy.config.core.v3.UdpSocketConfig',
  'envoy.config.core.v3.BindConfig',
  'envoy.config.core.v3.ExtraSourceAddress',
  'envoy.config.core.v3.SocketOptionsOverride',
  'envoy.config.core.v3.SocketOption',
  'envoy.config.core.v3.SocketCmsgHeaders',
  'envoy.config.core.v3.JsonFormatOptions',
  'envoy.config.core.v3.SubstitutionFormatString',
  'envoy.config.core.v3.RetryPolicy', // core's RetryPolicy (remote data sources), not the route one
  'envoy.config.core.v3.RemoteDataSource',
  'envoy.config.core.v3.AsyncDataSource',
  'envoy.config.core.v3.WatchedDirectory',
  'envoy.config.core.v3.EnvoyInternalAddress',
  'envoy.config.listener.v3.UdpListenerConfig',
  'envoy.config.listener.v3.QuicProtocolOptions',
  'envoy.config.listener.v3.ApiListener',
  'envoy.config.listener.v3.ListenerFilterChainMatchPredicate',
  'envoy.config.listener.v3.Listener.ConnectionBalanceConfig',
  'envoy.config.listener.v3.Listener.InternalListenerConfig',
  'envoy.config.listener.v3.AdditionalAddress',
  'envoy.config.cluster.v3.Cluster.LbSubsetConfig',
  'envoy.config.cluster.v3.Cluster.RingHashLbConfig',
  'envoy.config.cluster.v3.Cluster.MaglevLbConfig',
  'envoy.config.cluster.v3.Cluster.OriginalDstLbConfig',
  'envoy.config.cluster.v3.Cluster.LeastRequestLbConfig',
  'envoy.config.cluster.v3.Cluster.RoundRobinLbConfig',
  'envoy.config.cluster.v3.Cluster.CommonLbConfig',
  'envoy.config.cluster.v3.Cluster.PreconnectPolicy',
  'envoy.config.cluster.v3.Cluster.TransportSocketMatch',
  'envoy.config.cluster.v3.UpstreamConnectionOptions',
  'envoy.config.cluster.v3.LoadBalancingPolicy',
  'envoy.config.cluster.v3.OutlierDetection',
  'envoy.config.cluster.v3.TrackClusterStats',
  'envoy.config.cluster.v3.Filter',
  'envoy.config.core.v3.GrpcProtocolOptions',
  'envoy.config.core.v3.TypedExtensionConfig.',
  'envoy.config.route.v3.RateLimit',
  'envoy.config.route.v3.ScopedRouteConfiguration',
  'envoy.config.route.v3.RouteAction.UpgradeConfig',
  'envoy.config.route.v3.RouteAction.MaxStreamDuration',
  'envoy.config.route.v3.RouteAction.RequestMirrorPolicy',
  'envoy.config.route.v3.RouteAction.HashPolicy.FilterState',
  'envoy.config.route.v3.Tracing',
  'envoy.config.route.v3.FilterConfig',
  'envoy.config.route.v3.NonForwardingAction',
  'envoy.config.route.v3.FilterAction',
  'envoy.config.route.v3.InternalRedirectPolicy',
  'envoy.config.route.v3.ClusterSpecifierPlugin',
  'envoy.config.route.v3.VirtualHost.Cors', // (CorsPolicy, deprecated location)
  'envoy.config.route.v3.CorsPolicy',
  'envoy.config.route.v3.HedgePolicy',
  'envoy.config.route.v3.RetryPolicy.RateLimitedRetryBackOff',
  'envoy.config.route.v3.RetryPolicy.ResetHeader',
  'envoy.config.route.v3.RouteMatch.ConnectMatcher',
  'envoy.config.route.v3.Vhds',
  'envoy.extensions.filters.network.http_connection_manager.v3.ScopedRoutes',
  'envoy.extensions.filters.network.http_connection_manager.v3.ScopedRds',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.Tracing',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.InternalAddressConfig',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.SetCurrentClientCertDetails',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.ProxyStatusConfig',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.HcmAccessLogOptions',
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager.PathNormalizationOptions',
  'envoy.extensions.filters.network.http_connection_manager.v3.RequestIDExtension',
  'envoy.extensions.filters.network.http_connection_manager.v3.LocalReplyConfig',
  'envoy.extensions.filters.network.http_connection_manager.v3.ResponseMapper',
  'envoy.extensions.filters.network.http_connection_manager.v3.EnvoyMobileHttpConnectionManager',
  'envoy.type.http.v3.PathTransformation',
  'envoy.type.tracing.v3',
  'envoy.type.metadata.v3',
  'xds.type.matcher.v3', // unified matchers (filter_chain_matcher, matcher trees): not implemented
  'xds.core.v3.CollectionEntry',
  'xds.core.v3.ResourceLocator',
  'xds.core.v3.ContextParams',
  'envoy.config.core.v3.TypedExtensionConfig.',
];

/** Individual fields dropped (deprecated v2 leftovers whose types would pull in cut subtrees). */
const CUT_FIELDS = new Set<string>([]);

function cut(fullName: string): boolean {
  for (const c of CUT_TYPES) if (fullName === c || fullName.startsWith(c.endsWith('.') ? c : c + '.')) return true;
  return false;
}

export function loadUpstream(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const d of INCLUDE) {
      const p = path.join(d, target);
      if (fs.existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync(UPSTREAM_FILES, { keepCase: true });
  root.resolveAll();
  return root;
}

function fq(t: protobuf.ReflectionObject): string {
  return t.fullName.slice(1);
}

function keptField(f: protobuf.Field, owner: string): boolean {
  if (CUT_FIELDS.has(owner + '.' + f.name)) return false;
  if (f.resolvedType && cut(fq(f.resolvedType))) return false;
  return true;
}

function closure(root: protobuf.Root): Set<string> {
  const seen = new Set<string>();
  const q = [...ROOTS];
  while (q.length > 0) {
    const n = q.pop()!;
    if (seen.has(n) || cut(n)) continue;
    const t = root.lookup(n);
    if (!t) throw new Error(`no upstream type ${n}`);
    seen.add(n);
    if (t instanceof protobuf.Type) {
      for (const f of t.fieldsArray) if (keptField(f, n) && f.resolvedType) q.push(fq(f.resolvedType));
    } else if (t instanceof protobuf.Service) {
      for (const m of t.methodsArray) q.push(fq(m.resolvedRequestType!), fq(m.resolvedResponseType!));
    }
  }
  return seen;
}

function pkgOf(t: protobuf.ReflectionObject): string {
  let p = t.parent;
  while (p && !(p instanceof protobuf.Namespace && !(p instanceof protobuf.Type))) p = p.parent;
  return p ? fq(p) : '';
}

const WKT_IMPORTS = [
  'google/protobuf/any.proto',
  'google/protobuf/duration.proto',
  'google/protobuf/struct.proto',
  'google/protobuf/timestamp.proto',
  'google/protobuf/wrappers.proto',
  'google/protobuf/empty.proto',
];

function fileFor(pkg: string): string {
  return pkg.replace(/\./g, '/') + '/weir-subset.proto';
}

function emitType(t: protobuf.ReflectionObject, kept: Set<string>, indent: string, deps: Set<string>): string {
  const name = fq(t);
  const out: string[] = [];
  if (t instanceof protobuf.Enum) {
    const nums = Object.values(t.values);
    out.push(`${indent}enum ${t.name} {`);
    if (new Set(nums).size !== nums.length) out.push(`${indent}  option allow_alias = true;`);
    for (const [k, v] of Object.entries(t.values)) out.push(`${indent}  ${k} = ${v};`);
    out.push(`${indent}}`);
    return out.join('\n');
  }
  if (t instanceof protobuf.Service) {
    out.push(`${indent}service ${t.name} {`);
    for (const m of t.methodsArray) {
      deps.add(pkgOf(m.resolvedRequestType!));
      deps.add(pkgOf(m.resolvedResponseType!));
      out.push(
        `${indent}  rpc ${m.name}(${m.requestStream ? 'stream ' : ''}${m.resolvedRequestType!.fullName}) returns (${m.responseStream ? 'stream ' : ''}${m.resolvedResponseType!.fullName});`,
      );
    }
    out.push(`${indent}}`);
    return out.join('\n');
  }
  const type = t as protobuf.Type;
  out.push(`${indent}message ${type.name} {`);
  const shell = !kept.has(name);
  if (shell) out.push(`${indent}  // (namespace only: upstream fields not used by weir)`);
  const typeRef = (f: protobuf.Field): string => {
    if (f.resolvedType) {
      deps.add(pkgOf(f.resolvedType));
      return f.resolvedType.fullName;
    }
    return f.type;
  };
  const fieldLine = (f: protobuf.Field, ind: string): string => {
    if (f instanceof protobuf.MapField) return `${ind}map<${f.keyType}, ${typeRef(f)}> ${f.name} = ${f.id};`;
    const label = f.repeated ? 'repeated ' : f.options?.proto3_optional ? 'optional ' : '';
    const packed = f.repeated && f.options?.packed === false ? ' [packed = false]' : '';
    return `${ind}${label}${typeRef(f)} ${f.name} = ${f.id}${packed};`;
  };
  if (!shell) {
    const doneOneofs = new Set<string>();
    for (const f of type.fieldsArray) {
      if (!keptField(f, name)) continue;
      const o = f.partOf;
      if (o && !f.options?.proto3_optional) {
        if (doneOneofs.has(o.name)) continue;
        doneOneofs.add(o.name);
        const members = o.fieldsArray.filter((m) => keptField(m, name));
        out.push(`${indent}  oneof ${o.name} {`);
        for (const m of members) out.push(fieldLine(m, indent + '    '));
        out.push(`${indent}  }`);
        continue;
      }
      out.push(fieldLine(f, indent + '  '));
    }
  }
  for (const n of type.nestedArray) {
    if (hasKeptDescendant(n, kept)) out.push(emitType(n, kept, indent + '  ', deps));
  }
  out.push(`${indent}}`);
  return out.join('\n');
}

function hasKeptDescendant(t: protobuf.ReflectionObject, kept: Set<string>): boolean {
  if (kept.has(fq(t))) return true;
  if (t instanceof protobuf.Namespace) return t.nestedArray.some((n) => hasKeptDescendant(n, kept));
  return false;
}

function main(): void {
  const root = loadUpstream();
  const kept = closure(root);
  // Top-level declarations per package (nested ones are emitted inside their parent).
  const byPkg = new Map<string, protobuf.ReflectionObject[]>();
  const topOf = (t: protobuf.ReflectionObject): protobuf.ReflectionObject => {
    let x = t;
    while (x.parent instanceof protobuf.Type) x = x.parent;
    return x;
  };
  for (const n of kept) {
    const top = topOf(root.lookup(n)!);
    const pkg = pkgOf(top);
    const list = byPkg.get(pkg) ?? [];
    if (!list.includes(top)) list.push(top);
    byPkg.set(pkg, list);
  }
  // Remove previously generated files.
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'weir-subset.proto') fs.unlinkSync(p);
    }
  };
  for (const d of ['envoy', 'google', 'xds', 'udpa']) if (fs.existsSync(path.join(OUT, d))) walk(path.join(OUT, d));
  const files: string[] = [];
  byPkg.delete('google.protobuf'); // well-known types: proto-loader ships them
  for (const [pkg, tops] of [...byPkg].sort((a, b) => a[0].localeCompare(b[0]))) {
    tops.sort((a, b) => a.name.localeCompare(b.name));
    const deps = new Set<string>();
    const body = tops.map((t) => emitType(t, kept, '', deps)).join('\n\n');
    deps.delete(pkg);
    const imports = [...deps].sort().flatMap((d) => (d === 'google.protobuf' ? WKT_IMPORTS : [fileFor(d)])).map((f) => `import "${f}";`);
    const text = [
      '// GENERATED by proto/generate.ts from the Envoy data-plane-api definitions shipped with',
      '// @grpc/grpc-js-xds. Do not edit: edit ROOTS / CUT_TYPES in proto/generate.ts and rerun.',
      '// Same package, message names, field names and numbers as upstream (Apache-2.0, Envoy authors).',
      'syntax = "proto3";',
      '',
      `package ${pkg};`,
      '',
      ...imports,
      imports.length ? '' : '',
      body,
      '',
    ].join('\n');
    const file = fileFor(pkg);
    fs.mkdirSync(path.dirname(path.join(OUT, file)), { recursive: true });
    fs.writeFileSync(path.join(OUT, file), text);
    files.push(file);
  }
  fs.writeFileSync(path.join(OUT, 'files.json'), JSON.stringify(files, null, 2) + '\n');
  process.stdout.write(`${kept.size} types in ${files.length} files\n`);
}

if (require.main === module) main();
