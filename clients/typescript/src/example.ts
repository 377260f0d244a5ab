/**
 * An admin flow, type-checked by `npm run check` and never run: create a
 * tenant, give its fleet a heartbeat token, list the proxies that went
 * offline, and report any refusal by its problem.
 */
import { createHubClient, type Problem } from "./index.js";

export async function onboard(baseUrl: string, jwt: string): Promise<string | undefined> {
  const hub = createHubClient({ baseUrl, token: jwt });
  const tenant = await hub.POST("/v1/tenants", { body: { id: "acme", name: "Acme Corp" } });
  if (tenant.error) return report(tenant.error);
  const path = { tenant: tenant.data.id };
  const token = await hub.POST("/v1/tenants/{tenant}/tokens", { params: { path }, body: { label: "edge fleet cron" } });
  if (token.error) return report(token.error);
  const proxies = await hub.GET("/v1/tenants/{tenant}/proxies", { params: { path, query: { status: "offline" } } });
  if (proxies.error) return report(proxies.error);
  for (const p of proxies.data.proxies) console.log(`${p.name} offline since ${p.deadline} (${p.remote_ip})`);
  return token.data.token; // the fleet's bearer secret: hand it to the cron setup, never log it
}

/** Logs a refusal: its stable type URN, its title and what went wrong. */
function report(problem: Problem): undefined {
  console.error(`${problem.type}: ${problem.title}${problem.detail ? ` (${problem.detail})` : ""}`);
  return undefined;
}
