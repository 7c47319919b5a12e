/**
 * This server's own confidential client at the embedded development authorization
 * server, with which it exchanges tokens for `token-exchange` backends. The development
 * server provisions it (a static client allowed nothing but the token-exchange grant) and
 * the backends plugin authenticates as it; both read it from here:
 * - OAUTH_CLIENT_ID with OAUTH_CLIENT_PRIVATE_KEY (private_key_jwt) or OAUTH_CLIENT_SECRET,
 *   when set, so that the development setup can mirror the production one;
 * - otherwise the client `mcp-gateway` with a secret generated once into the data folder
 *   (`gateway-client.json`, mode 0600), so that nothing needs configuring.
 */
import { randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { clientPrivateKey, type Config } from '../config.ts'
import type { ClientCredentials } from '../backends/token-exchange.ts'
import { readOrCreatePrivateFile } from '../private-file.ts'

export const GATEWAY_CLIENT_FILE = 'gateway-client.json'
export const DEV_GATEWAY_CLIENT_ID = 'mcp-gateway'

async function loadOrCreateSecret (dir: string): Promise<string> {
  const path = join(dir, GATEWAY_CLIENT_FILE)
  const parse = (text: string): string => {
    let stored: { clientSecret?: unknown } | undefined
    try {
      stored = JSON.parse(text) as { clientSecret?: unknown }
    } catch {}
    if (typeof stored?.clientSecret !== 'string' || stored.clientSecret.length < 32) {
      throw new Error(`${path} is not a client file written by this server: delete it to generate a new secret`)
    }
    return stored.clientSecret
  }
  // Created exclusively: the server and another process starting together agree on one secret.
  return readOrCreatePrivateFile(path, () => ({ clientId: DEV_GATEWAY_CLIENT_ID, clientSecret: randomBytes(32).toString('base64url') }), parse)
}

/** The credentials of this server's client at the embedded development authorization server. */
export async function devGatewayClient (config: Pick<Config, 'OAUTH_CLIENT_ID' | 'OAUTH_CLIENT_SECRET' | 'OAUTH_CLIENT_PRIVATE_KEY' | 'DEV_AUTH_DATA_DIR'>): Promise<ClientCredentials> {
  if (config.OAUTH_CLIENT_ID !== undefined) {
    const privateKey = clientPrivateKey(config)
    if (privateKey !== undefined) return { clientId: config.OAUTH_CLIENT_ID, privateKey }
    if (config.OAUTH_CLIENT_SECRET !== undefined) return { clientId: config.OAUTH_CLIENT_ID, clientSecret: config.OAUTH_CLIENT_SECRET }
  }
  return { clientId: DEV_GATEWAY_CLIENT_ID, clientSecret: await loadOrCreateSecret(resolve(config.DEV_AUTH_DATA_DIR)) }
}
