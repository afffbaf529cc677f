// Envoy's response flags (StreamInfo::CoreResponseFlag), as a bitmask in Envoy's bit order so the
// access log prints them in the order Envoy does ("UF,URX").
// https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#config-access-log-format-response-flags

export const ResponseFlag = Object.freeze({
  LH: 1 << 0,
  UH: 1 << 1,
  UT: 1 << 2,
  LR: 1 << 3,
  UR: 1 << 4,
  UF: 1 << 5,
  UC: 1 << 6,
  UO: 1 << 7,
  NR: 1 << 8,
  DI: 1 << 9,
  FI: 1 << 10,
  DC: 1 << 15,
  URX: 1 << 16,
  SI: 1 << 17,
  DPE: 1 << 19,
  UPE: 1 << 24,
  NC: 1 << 25,
});

const ORDER: readonly [number, string][] = [
  [ResponseFlag.LH, 'LH'],
  [ResponseFlag.UH, 'UH'],
  [ResponseFlag.UT, 'UT'],
  [ResponseFlag.LR, 'LR'],
  [ResponseFlag.UR, 'UR'],
  [ResponseFlag.UF, 'UF'],
  [ResponseFlag.UC, 'UC'],
  [ResponseFlag.UO, 'UO'],
  [ResponseFlag.NR, 'NR'],
  [ResponseFlag.DI, 'DI'],
  [ResponseFlag.FI, 'FI'],
  [ResponseFlag.DC, 'DC'],
  [ResponseFlag.URX, 'URX'],
  [ResponseFlag.SI, 'SI'],
  [ResponseFlag.DPE, 'DPE'],
  [ResponseFlag.UPE, 'UPE'],
  [ResponseFlag.NC, 'NC'],
];

/** `UF,URX`, or `-` when no flag is set (Envoy's %RESPONSE_FLAGS%). */
export function formatResponseFlags(flags: number): string {
  if (flags === 0) return '-';
  let s = '';
  for (const [bit, name] of ORDER) {
    if ((flags & bit) !== 0) s = s === '' ? name : s + ',' + name;
  }
  return s;
}
