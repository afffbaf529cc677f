// Headers as a flat [name, value, name, value...] list with lower-case names: the form node's
// `writeHead(status, array)` and the upstream pool's `dispatch({ headers: array })` take without copying into
// an object. The route's header mutations (request_headers_to_add / _remove and the response
// counterparts) edit it through Envoy's get/set/append/remove vocabulary.

export interface HeaderMutationTarget {
  get(name: string): string | undefined;
  set(name: string, value: string): void;
  append(name: string, value: string): void;
  remove(name: string): void;
}

export class HeaderList implements HeaderMutationTarget {
  list: string[];

  constructor(list: string[]) {
    this.list = list;
  }

  get(name: string): string | undefined {
    const l = this.list;
    for (let i = 0; i < l.length; i += 2) if (l[i] === name) return l[i + 1];
    return undefined;
  }

  /** Replaces every entry of `name` with one (OVERWRITE_IF_EXISTS_OR_ADD). */
  set(name: string, value: string): void {
    const l = this.list;
    let found = -1;
    for (let i = 0; i < l.length; i += 2) {
      if (l[i] === name) {
        if (found === -1) {
          found = i;
          l[i + 1] = value;
        } else {
          l.splice(i, 2);
          i -= 2;
        }
      }
    }
    if (found === -1) l.push(name, value);
  }

  /** Adds another entry (APPEND_IF_EXISTS_OR_ADD: on HTTP/1 a separate header line). */
  append(name: string, value: string): void {
    this.list.push(name, value);
  }

  remove(name: string): void {
    const l = this.list;
    for (let i = 0; i < l.length; i += 2) {
      if (l[i] === name) {
        l.splice(i, 2);
        i -= 2;
      }
    }
  }
}
