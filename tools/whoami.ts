import { Type } from 'typebox'
import { missingScopes } from '../lib/caller.ts'
import { defineTool } from '../lib/tool.ts'

export default defineTool({
  name: 'whoami',
  title: 'Who am I',
  description: 'Returns the identity this server verified for the current user: subject, issuer, audience, OAuth client, granted scopes, when the access token expires, and which tools those scopes unlock.',
  requiredScopes: ['read:profile'],
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  input: Type.Object({}, { additionalProperties: false }),
  output: Type.Object({
    sub: Type.String({ description: 'Subject: the user as the issuer names them.' }),
    issuer: Type.String(),
    audience: Type.Array(Type.String()),
    clientId: Type.Union([Type.String(), Type.Null()], { description: 'The OAuth client the user authorised, when the token names it.' }),
    scopes: Type.Array(Type.String()),
    expiresInSeconds: Type.Integer({ description: 'Seconds until the access token expires.' }),
    permissions: Type.Array(Type.Object({
      tool: Type.String(),
      title: Type.String(),
      requiredScopes: Type.Array(Type.String()),
      allowed: Type.Boolean(),
      missingScopes: Type.Array(Type.String())
    }), { description: 'Every tool on this server and whether the granted scopes allow it.' })
  }),
  render: (me) => [
    `You are ${me.sub} (issuer ${me.issuer}${me.clientId === null ? '' : `, via client ${me.clientId}`}).`,
    `Scopes: ${me.scopes.length > 0 ? me.scopes.join(' ') : '(none)'}; the token expires in ${me.expiresInSeconds} s.`,
    ...me.permissions.map((p) => p.allowed ? `✓ ${p.tool}` : `✗ ${p.tool} (needs ${p.missingScopes.join(' ')})`)
  ].join('\n'),
  async handler (_input, { caller, tools }) {
    return {
      sub: caller.sub,
      issuer: caller.issuer,
      audience: [...caller.audience],
      clientId: caller.clientId ?? null,
      scopes: [...caller.scopes].sort(),
      expiresInSeconds: Math.max(0, Math.floor(caller.expiresAt - Date.now() / 1000)),
      permissions: tools.map((tool) => {
        const missing = missingScopes(tool.requiredScopes, caller.scopes)
        return { tool: tool.name, title: tool.title, requiredScopes: [...tool.requiredScopes], allowed: missing.length === 0, missingScopes: missing }
      })
    }
  }
})
