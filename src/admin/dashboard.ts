// The admin page people watch a canary on (GET /weir, alias /dashboard): one HTML document with an
// inline script, no build step, no external assets. The script polls /weir/data.json once a second;
// that JSON holds cumulative counters (picks per weighted destination, requests and 5xx per
// destination version) read from the metric families (aggregated across workers with
// --concurrency), and the page differences the samples it keeps to get a sliding window (60 s):
// observed share with a 95% Wilson interval next to the configured share, requests per second and
// error rate per version, the config version, its age and whether the last update was rejected.

import type { MetricJson } from './metric-family';
import { destinationLabels } from './metrics';

export interface DashboardData {
  now: number;
  config: { version: string; applied_at: number; rejected: boolean; rejected_errors: string[] };
  xds: { type_url: string; version_info: string; accepted: number; rejected: number; last_nacked: boolean }[];
  routes: {
    route_config: string;
    virtual_host: string;
    route: string;
    destinations: { cluster: string; version: string; weight: number; picks: number }[];
  }[];
  versions: { service: string; version: string; requests: number; errors: number }[];
}

function values(ms: readonly MetricJson[], name: string): MetricJson['values'] {
  return ms.find((m) => m.name === name)?.values ?? [];
}

export function dashboardData(ms: readonly MetricJson[], rejectedErrors: readonly string[] = []): DashboardData {
  const routes = new Map<string, DashboardData['routes'][number]>();
  const dest = (l: MetricJson['values'][number]['labels']): DashboardData['routes'][number]['destinations'][number] => {
    const key = `${l.route_config}\u0001${l.virtual_host}\u0001${l.route}`;
    let r = routes.get(key);
    if (r === undefined) routes.set(key, (r = { route_config: String(l.route_config), virtual_host: String(l.virtual_host), route: String(l.route), destinations: [] }));
    const c = String(l.cluster);
    let d = r.destinations.find((x) => x.cluster === c);
    if (d === undefined) r.destinations.push((d = { cluster: c, version: destinationLabels(c, null, null).version, weight: 0, picks: 0 }));
    return d;
  };
  // Weights first: they define which routes are current (picks of removed routes are dropped).
  for (const v of values(ms, 'weir_route_weight')) dest(v.labels).weight = v.value;
  const current = new Set(routes.keys());
  for (const v of values(ms, 'weir_route_picks_total')) {
    const l = v.labels;
    if (!current.has(`${l.route_config}\u0001${l.virtual_host}\u0001${l.route}`)) continue;
    dest(l).picks = v.value;
  }
  const versions = new Map<string, DashboardData['versions'][number]>();
  for (const v of values(ms, 'istio_requests_total')) {
    const l = v.labels;
    const key = `${l.destination_service}\u0001${l.destination_version}`;
    let e = versions.get(key);
    if (e === undefined) versions.set(key, (e = { service: String(l.destination_service), version: String(l.destination_version), requests: 0, errors: 0 }));
    e.requests += v.value;
    if (Number(l.response_code) >= 500) e.errors += v.value;
  }
  let version = '';
  for (const v of values(ms, 'weir_config_info')) if (v.value > 0) version = String(v.labels.version);
  const applied = values(ms, 'weir_config_last_applied_timestamp_seconds')[0]?.value ?? 0;
  const rejected = (values(ms, 'weir_config_last_update_rejected')[0]?.value ?? 0) > 0;
  const xds = new Map<string, DashboardData['xds'][number]>();
  const x = (t: string): DashboardData['xds'][number] => {
    let e = xds.get(t);
    if (e === undefined) xds.set(t, (e = { type_url: t, version_info: '', accepted: 0, rejected: 0, last_nacked: false }));
    return e;
  };
  for (const v of values(ms, 'weir_xds_updates_total')) x(String(v.labels.type_url))[v.labels.result === 'accepted' ? 'accepted' : 'rejected'] = v.value;
  for (const v of values(ms, 'weir_xds_version_info')) if (v.value > 0) x(String(v.labels.type_url)).version_info = String(v.labels.version_info);
  for (const v of values(ms, 'weir_xds_last_response_nacked')) x(String(v.labels.type_url)).last_nacked = v.value > 0;
  return {
    now: Date.now(),
    config: { version, applied_at: applied * 1000, rejected, rejected_errors: rejected ? [...rejectedErrors] : [] },
    xds: [...xds.values()],
    routes: [...routes.values()],
    versions: [...versions.values()].sort((a, b) => (a.service + a.version < b.service + b.version ? -1 : 1)),
  };
}

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>weir: traffic split</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:20px 28px;color:#1b1f24;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 8px}
.muted{color:#57606a}.bad{color:#b3261e;font-weight:600}.ok{color:#1a7f37;font-weight:600}
table{border-collapse:collapse;margin:4px 0 10px}td,th{padding:4px 10px;border-bottom:1px solid #d0d7de;text-align:left;vertical-align:middle}
th{font-weight:600;background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{position:relative;width:320px;height:16px;background:#eaeef2;border-radius:3px}
.fill{position:absolute;top:3px;height:10px;background:#0969da;border-radius:2px;left:0}
.ci{position:absolute;top:0;height:16px;background:rgba(9,105,218,.25)}
.target{position:absolute;top:-3px;width:2px;height:22px;background:#bf3989}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:1px 4px;border-radius:3px}
</style></head><body>
<h1>weir: traffic split</h1>
<div id="config" class="muted">loading…</div>
<div class="legend muted"><span><i class="sw" style="background:#0969da"></i>observed share (window)</span><span><i class="sw" style="background:rgba(9,105,218,.25)"></i>95% interval</span><span><i class="sw" style="background:#bf3989"></i>configured weight</span><span id="win"></span></div>
<h2>Weighted routes</h2><div id="routes" class="muted">no weighted route yet</div>
<h2>Destination versions</h2><div id="versions" class="muted">no requests yet</div>
<div id="xds"></div>
<script>
"use strict";
var WINDOW_MS = 60000, hist = [];
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return {"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c];});}
function wilson(k,n){if(n===0)return [0,1];var z=1.96,p=k/n,d=1+z*z/n,c=(p+z*z/(2*n))/d,h=z*Math.sqrt(p*(1-p)/n+z*z/(4*n*n))/d;return [Math.max(0,c-h),Math.min(1,c+h)];}
function pct(x){return (100*x).toFixed(1)+"%";}
function age(ms){var s=Math.max(0,Math.round(ms/1000));return s<120?s+" s":s<7200?Math.round(s/60)+" min":Math.round(s/3600)+" h";}
function base(d){var old=hist[0];for(var i=0;i<hist.length;i++){if(d.now-hist[i].now<=WINDOW_MS){old=hist[i];break;}}return old;}
function render(d){
  hist.push(d);while(hist.length>1&&d.now-hist[0].now>WINDOW_MS+2000)hist.shift();
  var b=base(d),dt=Math.max(0.001,(d.now-b.now)/1000);
  document.getElementById("win").textContent="window: last "+Math.round(dt)+" s";
  var c=d.config;
  document.getElementById("config").innerHTML="config version <code>"+esc(c.version||"(none)")+"</code> applied "+(c.applied_at?age(d.now-c.applied_at)+" ago":"—")+
    " · last update: "+(c.rejected?'<span class="bad">REJECTED</span> (previous config keeps serving)'+(c.rejected_errors.length?": "+esc(c.rejected_errors.join("; ")):""):'<span class="ok">accepted</span>');
  var h="";
  d.routes.forEach(function(r){
    var old=null;(b.routes||[]).forEach(function(o){if(o.route_config===r.route_config&&o.virtual_host===r.virtual_host&&o.route===r.route)old=o;});
    var tw=0,n=0,ks=r.destinations.map(function(x){tw+=x.weight;var p0=0;if(old)old.destinations.forEach(function(o){if(o.cluster===x.cluster)p0=o.picks;});var k=Math.max(0,x.picks-p0);n+=k;return k;});
    h+="<table><tr><th colspan=6>"+esc(r.virtual_host)+" · route "+esc(r.route)+' <span class="muted">('+esc(r.route_config)+")</span> · "+n+" picks in window</th></tr>"+
       "<tr><th>destination</th><th>version</th><th>target</th><th>observed</th><th>95% interval</th><th></th></tr>";
    r.destinations.forEach(function(x,i){
      var t=tw?x.weight/tw:0,k=ks[i],s=n?k/n:0,ci=wilson(k,n),off=n&&(t<ci[0]||t>ci[1]);
      h+="<tr><td><code>"+esc(x.cluster)+"</code></td><td>"+esc(x.version)+'</td><td class="num">'+pct(t)+'</td><td class="num'+(off?' bad':'')+'">'+(n?pct(s):"—")+'</td><td class="num">'+(n?pct(ci[0])+" – "+pct(ci[1]):"—")+
         '</td><td><div class="bar"><div class="ci" style="left:'+(320*ci[0])+"px;width:"+(320*(ci[1]-ci[0]))+'px"></div><div class="fill" style="width:'+(320*s)+'px"></div><div class="target" style="left:'+(320*t-1)+'px"></div></div></td></tr>';
    });
    h+="</table>";
  });
  if(h)document.getElementById("routes").innerHTML=h;
  var v="";
  d.versions.forEach(function(x){
    var o=null;(b.versions||[]).forEach(function(y){if(y.service===x.service&&y.version===x.version)o=y;});
    var dr=x.requests-(o?o.requests:0),de=x.errors-(o?o.errors:0);
    v+="<tr><td><code>"+esc(x.service)+"</code></td><td>"+esc(x.version)+'</td><td class="num">'+(dr/dt).toFixed(1)+'</td><td class="num'+(de>0?' bad':'')+'">'+(dr?pct(de/dr):"—")+'</td><td class="num">'+x.requests+"</td></tr>";
  });
  if(v)document.getElementById("versions").innerHTML="<table><tr><th>service</th><th>version</th><th>req/s</th><th>error rate (5xx)</th><th>total requests</th></tr>"+v+"</table>";
  var xs="";
  d.xds.forEach(function(x){xs+="<tr><td><code>"+esc(x.type_url.split(".").pop())+"</code></td><td><code>"+esc(x.version_info)+'</code></td><td class="num">'+x.accepted+'</td><td class="num">'+x.rejected+"</td><td>"+(x.last_nacked?'<span class="bad">NACKed</span>':'<span class="ok">ACKed</span>')+"</td></tr>";});
  document.getElementById("xds").innerHTML=xs?"<h2>xDS</h2><table><tr><th>type</th><th>version</th><th>accepted</th><th>rejected</th><th>last response</th></tr>"+xs+"</table>":"";
}
function poll(){fetch("/weir/data.json",{cache:"no-store"}).then(function(r){return r.json();}).then(render).catch(function(e){document.getElementById("config").textContent="admin unreachable: "+e;}).then(function(){setTimeout(poll,1000);});}
poll();
</script></body></html>
`;
