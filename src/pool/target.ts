import { type Endpoint, type EndpointInput, parseEndpoint } from "../endpoint.js";
import { InvalidEndpointError, SockpoolError } from "../errors.js";

/**
 * What `acquire()`, `use()` and the CLI take: one endpoint (any {@link EndpointInput}), or a
 * service of replicas: an array of endpoints, a comma-separated string
 * (`127.0.0.1:7001,127.0.0.1:7002`), `srv:NAME` (DNS SRV) or `dns:HOST:PORT` (every A and
 * AAAA address of HOST).
 */
export type TargetInput = EndpointInput | readonly EndpointInput[];

/** A service of replicas, parsed. `key` is stable: the same service written differently gets the same key. */
export type ServiceTarget =
  /** Fixed replicas: `key` is their endpoint keys, sorted, joined by commas. */
  | { readonly kind: "list"; readonly endpoints: readonly Endpoint[]; readonly key: string }
  /** DNS SRV: `name` lower-cased, `key` is `srv:name`. */
  | { readonly kind: "srv"; readonly name: string; readonly key: string }
  /** Every address of `host`, each on `port`: `key` is `dns:host:port`. */
  | { readonly kind: "dns"; readonly host: string; readonly port: number; readonly key: string };

/** A parsed target: one endpoint, or a service. */
export type Target = { readonly kind: "endpoint"; readonly endpoint: Endpoint; readonly key: string } | ServiceTarget;

const NAME = /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_.])?$/i;

/**
 * Parses a target without I/O. A string is a service when it starts with `srv:` or `dns:`
 * (`srv:80` and `dns:80` stay the endpoints they always were: a host named srv or dns) or
 * holds a comma (except `unix:` paths, which may contain one); anything else is an endpoint,
 * as {@link parseEndpoint} reads it. An array is always a service, even of one endpoint;
 * repeated endpoints count once. Replicas of `srv:` and `dns:` services are addresses on
 * plain TCP: TLS and Unix sockets are for endpoints and lists.
 *
 * Throws {@link InvalidEndpointError} quoting the whole input (and the bad replica): an empty
 * list or entry, a bad endpoint in a list, a bad SRV name, a `dns:` target without a port.
 */
export function parseTarget(input: TargetInput | Endpoint): Target {
  if (Array.isArray(input)) return listTarget(input, input);
  if (typeof input !== "string") {
    const endpoint = parseEndpoint(input as EndpointInput | Endpoint);
    return { kind: "endpoint", endpoint, key: endpoint.key };
  }
  const text = input.trim();
  const scheme = /^(srv|dns):(?!\d+$)/i.exec(text);
  if (scheme !== null) {
    const rest = text.slice(scheme[0].length);
    return scheme[1]?.toLowerCase() === "srv" ? srvTarget(input, rest) : dnsTarget(input, rest);
  }
  if (text.includes(",") && !/^unix:/i.test(text)) return listTarget(input, text.split(","));
  const endpoint = parseEndpoint(input);
  return { kind: "endpoint", endpoint, key: endpoint.key };
}

/** True for a service of replicas, false for one endpoint. */
export function isServiceTarget(target: Target): target is ServiceTarget {
  return target.kind !== "endpoint";
}

function listTarget(input: unknown, entries: readonly unknown[]): ServiceTarget {
  if (entries.length === 0) throw new InvalidEndpointError(input, "a service needs at least one replica");
  const byKey = new Map<string, Endpoint>();
  for (const entry of entries) {
    if (typeof entry === "string" && entry.trim() === "") {
      throw new InvalidEndpointError(input, "an empty entry in the list of replicas");
    }
    let endpoint: Endpoint;
    try {
      endpoint = parseEndpoint(entry as EndpointInput);
    } catch (err) {
      if (!(err instanceof SockpoolError)) throw err;
      throw new InvalidEndpointError(input, `bad replica: ${err.message}`);
    }
    if (!byKey.has(endpoint.key)) byKey.set(endpoint.key, endpoint);
  }
  return { kind: "list", endpoints: [...byKey.values()], key: [...byKey.keys()].sort().join(",") };
}

function srvTarget(input: string, rest: string): ServiceTarget {
  const name = rest.toLowerCase();
  if (name === "") throw new InvalidEndpointError(input, "srv: needs a name, as in srv:_service._tcp.example.com");
  if (!NAME.test(name) || name.includes("..")) {
    throw new InvalidEndpointError(input, `"${rest}" is not a DNS name`);
  }
  return { kind: "srv", name, key: `srv:${name}` };
}

function dnsTarget(input: string, rest: string): ServiceTarget {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest) || /^unix:/i.test(rest)) {
    throw new InvalidEndpointError(input, "dns: takes host:port (plain TCP), as in dns:cache.internal:6379");
  }
  let endpoint: Endpoint;
  try {
    endpoint = parseEndpoint(rest);
  } catch (err) {
    if (!(err instanceof SockpoolError)) throw err;
    throw new InvalidEndpointError(input, `dns: takes host:port: ${err.message}`);
  }
  if (endpoint.kind !== "tcp") throw new InvalidEndpointError(input, "dns: takes host:port");
  return { kind: "dns", host: endpoint.host, port: endpoint.port, key: `dns:${endpoint.key}` };
}
