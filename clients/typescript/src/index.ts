/**
 * A typed client for the proxyhub HTTP API.
 *
 * The types in `schema.d.ts` are generated from the hub's `openapi.yaml` by
 * openapi-typescript (`npm run generate`); requests go through openapi-fetch,
 * so every path, parameter, body and answer is checked against them.
 *
 * @packageDocumentation
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

type Schemas = components["schemas"];

/** A team on the hub, with its proxy settings. */
export type Tenant = Schemas["Tenant"];
/** The body of `POST /v1/tenants`. */
export type TenantCreate = Schemas["TenantCreate"];
/** A heartbeat token as created: the only answer that carries its secret. */
export type TokenCreated = Schemas["TokenCreated"];
/** A proxy the hub has heard from. */
export type Proxy = Schemas["Proxy"];
/** A page of proxies, sorted by name. */
export type ProxyPage = Schemas["ProxyPage"];
/** A recorded change of a proxy's IP. */
export type IPChange = Schemas["IPChange"];
/** A page of IP changes, newest first. */
export type IPChangePage = Schemas["IPChangePage"];
/** The answer of `GET /status`: every proxy of the caller's tenant and the counts. */
export type StatusReport = Schemas["StatusReport"];
/** An RFC 9457 problem, the body of every non-2xx answer. */
export type Problem = Schemas["Problem"];
/** The stable URN of a kind of problem, to branch on. */
export type ProblemType = Schemas["ProblemType"];

/** The filters of the IP-change exports (`proxy`, `ip`, `since`, `until`). */
export type IPChangeQuery = NonNullable<operations["export-ip-changes-csv"]["parameters"]["query"]>;

/** The typed client {@link createHubClient} returns. */
export type HubClient = Client<paths>;

/** Where the hub is and how to authenticate to it. */
export interface HubClientOptions {
  /** The hub's address, e.g. `https://hub.example.com`. */
  baseUrl: string;
  /**
   * The bearer credential sent with every request: an admin access token
   * (JWT) for the `/v1` operations, or a heartbeat token for `/proxy_server`
   * and `/status`.
   */
  token: string;
}

/**
 * Creates a client for the hub at `baseUrl` that sends
 * `Authorization: Bearer <token>` with every request.
 *
 * Each call resolves to `{ data }` on a 2xx answer or `{ error }` (a
 * {@link Problem}) otherwise, with the `response` in both.
 *
 * @example
 * ```ts
 * const hub = createHubClient({ baseUrl: "https://hub.example.com", token: jwt });
 * const { data, error } = await hub.GET("/v1/tenants/{tenant}", { params: { path: { tenant: "acme" } } });
 * ```
 */
export function createHubClient({ baseUrl, token }: HubClientOptions): HubClient {
  const client = createClient<paths>({ baseUrl });
  client.use(bearer(token));
  return client;
}

/** A middleware that authenticates every request with `token`. */
function bearer(token: string): Middleware {
  return {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
}

/** A non-2xx answer from the hub, with the problem it carried. */
export class ProblemError extends Error {
  /** The HTTP status code. */
  readonly status: number;
  /** The problem the hub sent; undefined when the body was empty. */
  readonly problem: Problem | undefined;

  constructor(status: number, problem: Problem | undefined) {
    super(problem ? `${problem.title}: ${problem.detail ?? problem.type}` : `HTTP ${status}`);
    this.name = "ProblemError";
    this.status = status;
    this.problem = problem;
  }
}

/**
 * Streams the tenant's IP changes that match `query` as CSV, newest first,
 * with a header row (id, proxy, old_ip, new_ip, at, token_id, request_id).
 * The whole selection comes in one answer, without paging, so the body is
 * returned as a stream rather than read into memory.
 *
 * Calls `GET /v1/tenants/{tenant}/ip-changes.csv`.
 *
 * @example
 * ```ts
 * const csv = await exportIPChangesCSV(hub, "acme", { since: "2026-11-01T00:00:00Z" });
 * await csv.pipeTo(Writable.toWeb(fs.createWriteStream("ip-changes.csv")));
 * ```
 *
 * @throws {@link ProblemError} when the hub refuses the request.
 */
export async function exportIPChangesCSV(
  client: HubClient,
  tenant: string,
  query: IPChangeQuery = {},
): Promise<ReadableStream<Uint8Array>> {
  const { data, error, response } = await client.GET("/v1/tenants/{tenant}/ip-changes.csv", {
    params: { path: { tenant }, query },
    parseAs: "stream",
  });
  if (!response.ok) {
    throw new ProblemError(response.status, error);
  }
  return data ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
}
