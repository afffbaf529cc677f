// What every virtual host and route of one RouteConfiguration shares (Envoy's CommonConfigImpl):
// route-config-level header mutations and flags, plus the compile options that shape matching.

import type { Runtime } from './types';
import type { HeaderParser } from './header-parser';
import type { PickMode } from './picker';

export class CommonConfig {
  readonly name: string;
  readonly requestHeaderParser: HeaderParser;
  readonly responseHeaderParser: HeaderParser;
  readonly mostSpecificHeaderMutationsWins: boolean;
  readonly internalOnlyHeaders: readonly string[];
  readonly maxDirectResponseBodySizeBytes: number;
  readonly ignorePathParametersInPathMatching: boolean;
  readonly matchHeadersIndividually: boolean;
  readonly runtime: Runtime;
  readonly defaultPickMode: PickMode;

  constructor(
    name: string,
    requestHeaderParser: HeaderParser,
    responseHeaderParser: HeaderParser,
    mostSpecificHeaderMutationsWins: boolean,
    internalOnlyHeaders: string[],
    maxDirectResponseBodySizeBytes: number,
    ignorePathParametersInPathMatching: boolean,
    matchHeadersIndividually: boolean,
    runtime: Runtime,
    defaultPickMode: PickMode,
  ) {
    this.name = name;
    this.requestHeaderParser = requestHeaderParser;
    this.responseHeaderParser = responseHeaderParser;
    this.mostSpecificHeaderMutationsWins = mostSpecificHeaderMutationsWins;
    this.internalOnlyHeaders = internalOnlyHeaders;
    this.maxDirectResponseBodySizeBytes = maxDirectResponseBodySizeBytes;
    this.ignorePathParametersInPathMatching = ignorePathParametersInPathMatching;
    this.matchHeadersIndividually = matchHeadersIndividually;
    this.runtime = runtime;
    this.defaultPickMode = defaultPickMode;
  }
}
