// weir's application log, in the shape of Envoy's default log format
// (`[%Y-%m-%d %T.%e][%t][%l][%n] %v`, see --log-format in Envoy's CLI docs), with the process id
// where Envoy prints the thread id (weir's workers are processes). Written to stderr as Envoy does;
// stdout is left to access logs. Structured fields follow the message as ` key=value`.

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const LEVEL_RANK: Readonly<Record<LogLevel, number>> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  critical: 5,
  off: 6,
};

/** Envoy's `--log-level` values (spdlog names; `warn` is accepted for `warning`). */
export function parseLogLevel(s: string): LogLevel | undefined {
  const v = s.toLowerCase();
  if (v === 'warn') return 'warning';
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : undefined;
}

/** The logger interface the data path accepts (src/proxy `Logger`). */
export interface Logger {
  debug(msg: string, fields?: object): void;
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
  error(msg: string, fields?: object): void;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function timestamp(d: Date): string {
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`
  );
}

function formatFields(fields: object | undefined): string {
  if (!fields) return '';
  let out = '';
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out += ` ${k}=${typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`;
  }
  return out;
}

export class ConsoleLogger implements Logger {
  // The level lives in an object shared with every child logger, so the admin's
  // `POST /logging?level=` changes all components at once, as Envoy's does.
  readonly #state: { level: LogLevel; rank: number };
  readonly #name: string;
  readonly #stream: NodeJS.WritableStream;

  constructor(
    level: LogLevel = 'info',
    opts: { name?: string; stream?: NodeJS.WritableStream; state?: { level: LogLevel; rank: number } } = {},
  ) {
    this.#state = opts.state ?? { level, rank: LEVEL_RANK[level] };
    this.#name = opts.name ?? 'main';
    this.#stream = opts.stream ?? process.stderr;
  }

  get level(): LogLevel {
    return this.#state.level;
  }

  /** Envoy's `POST /logging?level=`: false when the level is not one of Envoy's names. */
  setLevel(level: string): boolean {
    const parsed = parseLogLevel(level);
    if (parsed === undefined) return false;
    this.#state.level = parsed;
    this.#state.rank = LEVEL_RANK[parsed];
    return true;
  }

  /** A logger for another component (`[upstream]`, `[admin]`) sharing level and stream. */
  child(name: string): ConsoleLogger {
    return new ConsoleLogger(this.#state.level, { name, stream: this.#stream, state: this.#state });
  }

  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= this.#state.rank && level !== 'off';
  }

  log(level: LogLevel, msg: string, fields?: object): void {
    if (!this.enabled(level)) return;
    this.#stream.write(`[${timestamp(new Date())}][${process.pid}][${level}][${this.#name}] ${msg}${formatFields(fields)}\n`);
  }

  trace(msg: string, fields?: object): void {
    this.log('trace', msg, fields);
  }
  debug(msg: string, fields?: object): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: object): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: object): void {
    this.log('warning', msg, fields);
  }
  error(msg: string, fields?: object): void {
    this.log('error', msg, fields);
  }
  critical(msg: string, fields?: object): void {
    this.log('critical', msg, fields);
  }
}
